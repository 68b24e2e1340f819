"""redis-py 4.3 doing what Python session stores do, against the proxy.

Usage: /usr/bin/python3 redis_session.py HOST PORT PASSWORD
With REDIS_TLS_CA set, it connects over TLS, trusting that CA file.
Prints "ok" or raises. Each check names the behaviour it proves.
"""
import os
import sys
import redis

host, port, password = sys.argv[1], int(sys.argv[2]), sys.argv[3]
tls = {}
if os.environ.get("REDIS_TLS_CA"):
    tls = {"ssl": True, "ssl_ca_certs": os.environ["REDIS_TLS_CA"], "ssl_cert_reqs": "required"}
r = redis.Redis(host=host, port=port, password=password or None, db=3, client_name="pytest-client", **tls)
assert r.ping()
assert r.client_getname() == "pytest-client"  # redis-py decodes this one reply
assert r.set("py:sess", "v1", ex=1209600) is True
assert 1209500 < r.ttl("py:sess") <= 1209600
assert r.set("py:lock", "me", px=5000, nx=True) is True
assert r.set("py:lock", "other", px=5000, nx=True) is None, "SET NX on a held lock must fail"
assert r.expire("py:sess", 300) is True
assert 0 < r.ttl("py:sess") <= 300
# A transaction pipeline arrives as MULTI, SET, EXPIRE, EXEC in one write.
with r.pipeline(transaction=True) as p:
    p.set("py:tx", "t1")
    p.expire("py:tx", 100)
    assert p.execute() == [True, True]
assert r.get("py:tx") == b"t1"
# A plain pipeline: one write, replies in order.
with r.pipeline(transaction=False) as p:
    for i in range(50):
        p.set("py:p%d" % i, i)
    for i in range(50):
        p.get("py:p%d" % i)
    res = p.execute()
assert res[50:] == [str(i).encode() for i in range(50)], res[50:]
assert r.delete("py:sess", "py:lock", "py:tx") == 3
assert r.get("py:sess") is None
# db 3 is not db 0.
assert redis.Redis(host=host, port=port, password=password or None, db=0, **tls).get("py:p1") is None
print("ok")
