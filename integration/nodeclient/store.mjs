// One step of express-session store work against sessionproxy, as its own
// node process: node store.mjs KIND HOST:PORT STEP SID
// KIND: node-redis (connect-redis) | node-redis-tls (the same over rediss://,
// trusting the CA file in $REDIS_TLS_CA) | ioredis | connect-memcached | memjs.
// Prints one JSON line.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const session = require("express-session");

const [kind, addr, step, sid] = process.argv.slice(2);
const [host, port] = addr.split(":");
// Step "short" stores the session with a ~1-second lifetime (1.9 s: connect-memcached
// truncates the remaining seconds, and 0 would mean "never expires"). express-session's
// own Cookie class, as in an app: the stores read its maxAge/expires getters.
const maxAge = step === "short" ? 1900 : 3600000;
const cookie = new session.Cookie({ maxAge, httpOnly: true, path: "/" });
const sess = { cookie, user: "alice", n: 1 };

function call(store, method, ...args) {
  return new Promise((resolve, reject) =>
    store[method](...args, (err, val) => (err ? reject(err) : resolve(val))));
}

async function withStore(fn) {
  if (kind === "node-redis" || kind === "node-redis-tls") {
    const { createClient } = require("redis");
    const { RedisStore } = require("connect-redis");
    const client = createClient(kind === "node-redis"
      ? { url: `redis://${addr}` }
      : { url: `rediss://${addr}`, socket: { ca: readFileSync(process.env.REDIS_TLS_CA) } });
    await client.connect();
    try { return await fn(new RedisStore({ client, prefix: "myapp:" })); } finally { await client.quit(); }
  }
  if (kind === "connect-memcached") {
    const MemcachedStore = require("connect-memcached")(session);
    const store = new MemcachedStore({ hosts: [addr], prefix: "sess_", retries: 0, timeout: 2000 });
    try { return await fn(store); } finally { store.client.end(); }
  }
  throw new Error("unknown kind " + kind);
}

// ioredis (RESP3 via "hello 3", then "info" as its ready check) used the way
// a session store uses it: connect-redis 9 speaks node-redis's API only.
async function ioredisStep() {
  const Redis = require("ioredis");
  const client = new Redis(Number(port), host, { maxRetriesPerRequest: 1 });
  try {
    const key = "io:" + sid;
    switch (step) {
      case "set": await client.set(key, JSON.stringify(sess), "EX", 3600); break;
      case "short": await client.set(key, JSON.stringify(sess), "EX", 1); break;
      case "touch": await client.expire(key, 3600); break;
      case "destroy": await client.del(key); break;
    }
    const value = await client.get(key);
    return { session: value ? JSON.parse(value) : null, ttl: await client.ttl(key) };
  } finally { await client.quit(); }
}

async function memjsStep() {
  const memjs = require("memjs");
  const client = memjs.Client.create(addr, { retries: 0, timeout: 2 });
  try {
    const key = "memjs:" + sid;
    switch (step) {
      case "set": await client.set(key, JSON.stringify(sess), { expires: 3600 }); break;
      case "short": await client.set(key, JSON.stringify(sess), { expires: 1 }); break;
      case "touch": await client.touch(key, 3600); break;
      case "destroy": await client.delete(key); break;
      case "add": {
        // memjs resolves add with false on KEY_EXISTS.
        return { added: await client.add(key, "x", { expires: 60 }) };
      }
    }
    const { value } = await client.get(key);
    return { session: value ? JSON.parse(value.toString()) : null };
  } finally { client.close(); }
}

async function main() {
  if (kind === "memjs") return memjsStep();
  if (kind === "ioredis") return ioredisStep();
  return withStore(async (store) => {
    switch (step) {
      case "set": case "short": await call(store, "set", sid, sess); break;
      case "touch": await call(store, "touch", sid, sess); break;
      case "destroy": await call(store, "destroy", sid); break;
      case "length": return { length: await call(store, "length") };
    }
    return { session: (await call(store, "get", sid)) ?? null };
  });
}

main().then((r) => { console.log(JSON.stringify(r)); process.exit(0); },
  (e) => { console.log(JSON.stringify({ error: String(e && e.stack || e) })); process.exit(1); });
