"""Django 3.2 cache sessions on PyMemcacheCache, against the proxy's memcached pool.

Usage: /usr/bin/python3 django_session.py HOST:PORT STEP [SESSION_KEY]
STEP is create | load | expire | short | cycle | flush; prints a JSON result.
"""
import json
import sys

import django
from django.conf import settings

location, step = sys.argv[1], sys.argv[2]
key = sys.argv[3] if len(sys.argv) > 3 else None
settings.configure(
    SECRET_KEY="x" * 50,
    INSTALLED_APPS=["django.contrib.sessions"],
    SESSION_ENGINE="django.contrib.sessions.backends.cache",
    CACHES={"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": location}},
)
django.setup()
from django.contrib.sessions.backends.cache import SessionStore  # noqa: E402

s = SessionStore(session_key=key)
out = {}
if step == "create":
    s["user"] = "alice"
    s.create()
    s.save()
elif step == "load":
    out["user"] = s.get("user")
elif step == "expire":
    s.set_expiry(300)
    s["touched"] = True
    s.save()
elif step == "short":
    s.set_expiry(1)
    s.save()
elif step == "cycle":
    s.cycle_key()  # login: new key, same data, old key deleted
elif step == "flush":
    s.flush()  # logout
out["key"] = s.session_key
out["exists"] = bool(s.session_key) and s.exists(s.session_key)
print(json.dumps(out))
