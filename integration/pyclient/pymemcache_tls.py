"""pymemcache over TLS, as to memcached's own -Z port, against the proxy.

Usage: /usr/bin/python3 pymemcache_tls.py HOST PORT CAFILE
Prints "ok" or raises.
"""
import ssl
import sys

from pymemcache.client.base import Client

host, port, cafile = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ctx = ssl.create_default_context(cafile=cafile)
c = Client((host, port), tls_context=ctx, connect_timeout=5, timeout=10)
assert c.set("pytls:sess", b"v1", expire=300) is True
assert c.get("pytls:sess") == b"v1"
assert c.add("pytls:sess", b"other", noreply=False) is False, "add of a held key must fail"
assert c.get_many(["pytls:sess", "pytls:none"]) == {"pytls:sess": b"v1"}
assert c.delete("pytls:sess") is True
assert c.get("pytls:sess") is None
c.close()
print("ok")
