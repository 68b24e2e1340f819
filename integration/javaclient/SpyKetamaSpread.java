import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import net.spy.memcached.AddrUtil;
import net.spy.memcached.KetamaConnectionFactory;
import net.spy.memcached.MemcachedClient;

/**
 * Spreads keys over several memcached servers with spymemcached's ketama
 * locator (KetamaConnectionFactory), as a Java application that shards its
 * own keys does:
 *   java -cp spymemcached.jar:. SpyKetamaSpread N "HOST:PORT HOST:PORT ..."
 * Prints each key it stored on its own line, or "FAIL ..." and exits non-zero.
 */
public class SpyKetamaSpread {
    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[0]);
        MemcachedClient c = new MemcachedClient(new KetamaConnectionFactory(), AddrUtil.getAddresses(args[1]));
        try {
            List<String> keys = new ArrayList<>();
            List<Future<Boolean>> sets = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String key = "app:" + UUID.randomUUID() + ":" + i;
                keys.add(key);
                sets.add(c.set(key, 3600, ("v" + i).getBytes()));
            }
            for (int i = 0; i < n; i++) {
                if (!sets.get(i).get(10, TimeUnit.SECONDS)) {
                    System.out.println("FAIL set " + keys.get(i));
                    System.exit(1);
                }
            }
            for (String k : keys) {
                System.out.println(k);
            }
        } finally {
            c.shutdown(5, TimeUnit.SECONDS);
        }
    }
}
