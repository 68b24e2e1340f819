package integration

import (
	"bufio"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sessionproxy/integration/harness"
)

// TestPipelineOf10kCommandsKeepsOrder: a client may write thousands of
// commands at once; every reply comes back, in order. The commands mix
// kinds that take different paths through the proxy (local, read, write,
// conditional, multi-key), so a reordering shows.
func TestPipelineOf10kCommandsKeepsOrder(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, clusterConfig{})
	ctx := t.Context()
	const n = 10000

	t.Run("go-redis pipeline", func(t *testing.T) {
		c := cl.proxy.Client(0)
		type expect struct {
			cmd  redis.Cmder
			want string
		}
		var exp []expect
		cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range n / 5 {
				k := fmt.Sprintf("pl:%d", i)
				exp = append(exp,
					expect{p.Set(ctx, k, "v"+strconv.Itoa(i), time.Hour), "OK"},
					expect{p.Get(ctx, k), "v" + strconv.Itoa(i)},
					expect{p.Echo(ctx, "e"+strconv.Itoa(i)), "e" + strconv.Itoa(i)},
					expect{p.Incr(ctx, "pl:counter"), strconv.Itoa(i + 1)},
					expect{p.MGet(ctx, k, "pl:missing", fmt.Sprintf("pl:%d", i/2)), fmt.Sprintf("[v%d <nil> v%d]", i, i/2)},
				)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("pipeline: %v", err)
		}
		if len(cmds) != n {
			t.Fatalf("%d replies for %d commands", len(cmds), n)
		}
		bad := 0
		for i, e := range exp {
			var got string
			switch c := e.cmd.(type) {
			case *redis.StatusCmd:
				got = c.Val()
			case *redis.StringCmd:
				got = c.Val()
			case *redis.IntCmd:
				got = strconv.FormatInt(c.Val(), 10)
			case *redis.SliceCmd:
				got = fmt.Sprint(c.Val())
			}
			if got != e.want || e.cmd.Err() != nil {
				if bad < 10 {
					t.Errorf("reply %d to %v = %q (err %v), want %q", i, e.cmd.Args(), got, e.cmd.Err(), e.want)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Fatalf("%d of %d replies wrong or out of order", bad, n)
		}
	})

	t.Run("raw single write", func(t *testing.T) {
		// One write of 10k commands, as redis-cli --pipe or a PHP batch does;
		// the replies are read while the write is still going, like a real
		// client, so that neither side's buffers deadlock.
		rc := harness.DialRaw(t, cl.proxy.Addr())
		var req []byte
		var want []string
		for i := range n / 4 {
			k := fmt.Sprintf("raw:%d", i)
			v := "w" + strconv.Itoa(i)
			req = harness.AppendCommand(req, "SET", k, v)
			req = harness.AppendCommand(req, "GET", k)
			req = harness.AppendCommand(req, "PING", "p"+strconv.Itoa(i))
			req = harness.AppendCommand(req, "EXISTS", k, "raw:none", k)
			want = append(want, `+"OK"`, fmt.Sprintf("$%q", v), fmt.Sprintf("$%q", "p"+strconv.Itoa(i)), ":2")
		}
		werr := make(chan error, 1)
		go func() { werr <- rc.Write(req) }()
		r := bufio.NewReaderSize(rc.Conn(), 64<<10)
		_ = rc.Conn().SetReadDeadline(time.Now().Add(60 * time.Second))
		bad := 0
		for i, w := range want {
			v, err := harness.ReadReply(r)
			if err != nil {
				t.Fatalf("reply %d of %d: %v", i, len(want), err)
			}
			if v.String() != w {
				if bad < 10 {
					t.Errorf("reply %d = %s, want %s", i, v, w)
				}
				bad++
			}
		}
		if err := <-werr; err != nil {
			t.Fatalf("write: %v", err)
		}
		if bad > 0 {
			t.Fatalf("%d of %d replies wrong or out of order", bad, len(want))
		}
	})
}
