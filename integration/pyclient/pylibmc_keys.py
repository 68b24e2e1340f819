"""Writes keys with pylibmc's own consistent hashing, as an application
spreading its keys over several memcached servers would.

pylibmc_keys.py BEHAVIOUR SERVERS PREFIX COUNT
BEHAVIOUR is ketama or ketama_weighted; SERVERS is host:port:weight,...
Key i is PREFIX + str(i) with the value "v-" + the key. Prints "ok".
"""
import sys

import pylibmc

behaviour, servers, prefix, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
mc = pylibmc.Client(servers.split(","), behaviors={behaviour: True})
for i in range(count):
    key = prefix + str(i)
    if not mc.set(key, ("v-" + key).encode()):
        sys.exit("set %s failed" % key)
print("ok")
