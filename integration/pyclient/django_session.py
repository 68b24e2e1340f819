"""Django 3.2 cache sessions on PyMemcacheCache, against the proxy's memcached pool.

Usage: /usr/bin/python3 django_session.py ENGINE HOST:PORT STEP [SESSION_KEY]
ENGINE is cache | cached_db (cached_db keeps its table in the SQLite file named by
$DJANGO_DB, created on first use). STEP is create | load | expire | short | cycle |
flush; prints a JSON result.
"""
import json
import os
import sys

import django
from django.conf import settings

engine, location, step = sys.argv[1], sys.argv[2], sys.argv[3]
key = sys.argv[4] if len(sys.argv) > 4 else None
settings.configure(
    SECRET_KEY="x" * 50,
    INSTALLED_APPS=["django.contrib.sessions"],
    SESSION_ENGINE="django.contrib.sessions.backends." + engine,
    CACHES={"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache", "LOCATION": location}},
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("DJANGO_DB", ":memory:")}},
    USE_TZ=True,
)
django.setup()
if engine == "cached_db":
    from django.core.management import call_command  # noqa: E402

    call_command("migrate", "sessions", verbosity=0)
    from django.contrib.sessions.backends.cached_db import SessionStore  # noqa: E402
else:
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
