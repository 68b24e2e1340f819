import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import net.spy.memcached.AddrUtil;
import net.spy.memcached.DefaultConnectionFactory;
import net.spy.memcached.FailureMode;
import net.spy.memcached.MemcachedClient;
import net.spy.memcached.MemcachedNode;
import net.spy.memcached.NodeLocator;

/**
 * Writes sessions the way memcached-session-manager (MSM) does in
 * non-sticky mode over several nodes, with spymemcached and a NodeLocator
 * that follows MSM's SuffixBasedNodeLocator, SessionIdFormat and
 * MemcachedNodesManager.getNextAvailableNodeId (every node available):
 *   java -cp spymemcached.jar:. MsmSuffixSpread N "n1:HOST:PORT,n2:HOST:PORT,..."
 * Prints every key it stored, one a line, or "FAIL ..." and exits non-zero.
 */
public class MsmSuffixSpread {
    /** SessionIdFormat.extractMemcachedId, on the whole key. */
    static String extractMemcachedId(String key) {
        int idxDash = key.indexOf('-');
        if (idxDash < 0) return null;
        int idxDot = key.indexOf('.');
        if (idxDot < 0) return key.substring(idxDash + 1);
        if (idxDot < idxDash) return null;
        return key.substring(idxDash + 1, idxDot);
    }

    static class SuffixLocator implements NodeLocator {
        final List<MemcachedNode> nodes;
        final List<String> ids;
        final Map<String, MemcachedNode> byId = new HashMap<>();

        SuffixLocator(List<MemcachedNode> nodes, List<String> ids, List<InetSocketAddress> addrs) {
            this.nodes = nodes;
            this.ids = ids;
            for (MemcachedNode n : nodes) {
                byId.put(ids.get(addrs.indexOf(n.getSocketAddress())), n);
            }
        }

        public MemcachedNode getPrimary(String key) {
            String id = extractMemcachedId(key);
            if (key.startsWith("bak:")) {
                // getNextAvailableNodeId: the next node id in memcachedNodes order.
                id = ids.get((ids.indexOf(id) + 1) % ids.size());
            }
            MemcachedNode n = byId.get(id);
            if (n == null) throw new IllegalArgumentException("No node found for key " + key);
            return n;
        }

        public Iterator<MemcachedNode> getSequence(String key) { throw new UnsupportedOperationException(); }
        public Collection<MemcachedNode> getAll() { return nodes; }
        public NodeLocator getReadonlyCopy() { return this; }
        public void updateLocator(List<MemcachedNode> nodes) { throw new UnsupportedOperationException(); }
    }

    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[0]);
        List<String> ids = new ArrayList<>();
        List<InetSocketAddress> addrs = new ArrayList<>();
        for (String node : args[1].split(",")) {
            String[] p = node.split(":");
            ids.add(p[0]);
            addrs.add(new InetSocketAddress(p[1], Integer.parseInt(p[2])));
        }
        DefaultConnectionFactory cf = new DefaultConnectionFactory() {
            @Override
            public NodeLocator createLocator(List<MemcachedNode> nodes) {
                return new SuffixLocator(nodes, ids, addrs);
            }

            @Override
            public FailureMode getFailureMode() {
                return FailureMode.Cancel; // as MSM's connection factories
            }
        };
        MemcachedClient c = new MemcachedClient(cf, addrs);
        try {
            List<String> keys = new ArrayList<>();
            List<Future<Boolean>> writes = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                String sid = UUID.randomUUID().toString().replace("-", "").toUpperCase() + "-" + ids.get(i % ids.size());
                if (i % 3 == 0) sid += ".jvm" + (i % 2 + 1); // Tomcat's jvmRoute
                // MSM non-sticky: lock, session, validity and their backups.
                String[] ks = {"lock:" + sid, sid, "validity:" + sid, "bak:" + sid, "bak:validity:" + sid};
                for (String k : ks) {
                    keys.add(k);
                    writes.add(k.startsWith("lock:") ? c.add(k, 300, "locked".getBytes()) : c.set(k, 3600, ("data-" + k).getBytes()));
                }
            }
            for (int i = 0; i < writes.size(); i++) {
                if (!writes.get(i).get(10, TimeUnit.SECONDS)) {
                    System.out.println("FAIL write " + keys.get(i));
                    System.exit(1);
                }
            }
            for (String k : keys) System.out.println(k);
        } finally {
            c.shutdown(5, TimeUnit.SECONDS);
        }
    }
}
