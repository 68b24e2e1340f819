import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import net.spy.memcached.BinaryConnectionFactory;
import net.spy.memcached.CASResponse;
import net.spy.memcached.CASValue;
import net.spy.memcached.ConnectionFactory;
import net.spy.memcached.DefaultConnectionFactory;
import net.spy.memcached.MemcachedClient;

/**
 * Drives spymemcached (the client of Tomcat memcached-session-manager) the
 * way MSM's non-sticky mode does, against sessionproxy:
 *   java -cp spymemcached.jar:. MsmSession HOST:PORT text|binary STEP SESSION_ID
 * STEP: create | read | expire | destroy. Prints "ok ..." or "FAIL ..." and exits non-zero on failure.
 */
public class MsmSession {
    static void check(boolean ok, String what) {
        if (!ok) {
            System.out.println("FAIL " + what);
            System.exit(1);
        }
    }

    public static void main(String[] args) throws Exception {
        String[] hp = args[0].split(":");
        ConnectionFactory cf = args[1].equals("binary") ? new BinaryConnectionFactory() : new DefaultConnectionFactory();
        String step = args[2], id = args[3] + "-n1";
        MemcachedClient c = new MemcachedClient(cf, Arrays.asList(new InetSocketAddress(hp[0], Integer.parseInt(hp[1]))));
        try {
            c.get("ping-n1"); // MSM's node health check
            // Non-sticky lock: add lock:<id> "locked" for 5 s, release with delete.
            check(c.add("lock:" + id, 5, "locked".getBytes()).get(2, TimeUnit.SECONDS), "lock taken");
            check(!c.add("lock:" + id, 5, "locked".getBytes()).get(2, TimeUnit.SECONDS), "second lock refused");
            switch (step) {
                case "create": {
                    byte[] data = ("session-data-" + id).getBytes();
                    check(c.set(id, 3600, data).get(2, TimeUnit.SECONDS), "set session");
                    check(c.set("validity:" + id, 1800, "valid".getBytes()).get(2, TimeUnit.SECONDS), "set validity");
                    check(c.set("bak:" + id, 3600, data).get(2, TimeUnit.SECONDS), "set bak");
                    check(c.touch(id, 3600).get(2, TimeUnit.SECONDS), "touch");
                    // gets + cas, as a session update with optimistic locking.
                    CASValue<Object> cv = c.gets(id);
                    check(cv != null, "gets");
                    check(c.cas(id, cv.getCas(), 3600, data) == CASResponse.OK, "cas with the current value");
                    check(c.cas(id, cv.getCas(), 3600, data) == CASResponse.EXISTS, "cas with a stale value");
                    break;
                }
                case "read": {
                    Map<String, Object> m = c.getBulk(id, "validity:" + id, "bak:" + id, "missing:" + id);
                    check(m.size() == 3, "getBulk found " + m.keySet());
                    check(new String((byte[]) m.get(id)).equals("session-data-" + id), "session data");
                    break;
                }
                case "expire": {
                    check(c.set(id, 1, "short".getBytes()).get(2, TimeUnit.SECONDS), "set with 1 s expiry");
                    Thread.sleep(2500);
                    check(c.get(id) == null, "session gone after its expiry");
                    break;
                }
                case "destroy": {
                    for (String k : new String[] {id, "validity:" + id, "bak:" + id}) {
                        check(c.delete(k).get(2, TimeUnit.SECONDS), "delete " + k);
                    }
                    check(c.get(id) == null, "destroyed session gone");
                    break;
                }
                default:
                    check(false, "unknown step " + step);
            }
            check(c.delete("lock:" + id).get(2, TimeUnit.SECONDS), "lock released");
            System.out.println("ok " + step);
        } finally {
            c.shutdown(2, TimeUnit.SECONDS);
        }
    }
}
