package backend

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// dumpFrom runs readMetadump over a pipe fed with dump, and returns every
// key it queued and its error.
func dumpFrom(t *testing.T, dump string) ([]string, error) {
	t.Helper()
	server, client := net.Pipe()
	defer client.Close()
	go func() {
		_, _ = server.Write([]byte(dump))
		server.Close()
	}()
	q := &keyQueue{}
	q.ready = sync.NewCond(&q.mu)
	go func() { q.finish(readMetadump(client, time.Second, q)) }()
	var all []string
	for range 10000 {
		keys, done, err := q.take()
		all = append(all, keys...)
		if done {
			return all, err
		}
	}
	t.Fatal("the queue never finished")
	return nil, nil
}

func TestReadMetadumpDecodesKeysUntilEND(t *testing.T) {
	var b strings.Builder
	var want []string
	for i := range copyBatchSize + 3 { // more than one hand-over batch
		k := fmt.Sprintf("sess:%d", i)
		want = append(want, k)
		fmt.Fprintf(&b, "key=%s exp=-1 la=1 cas=%d fetch=no cls=1 size=70\n", k, i)
	}
	want = append(want, "a b")
	b.WriteString("key=a%20b exp=-1 la=1 cas=9 fetch=no cls=1 size=70\nEND\r\n")
	got, err := dumpFrom(t, b.String())
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %d keys %q…, want %d", len(got), got[:min(3, len(got))], len(want))
	}
}

func TestReadMetadumpReportsErrorsAndTruncation(t *testing.T) {
	for _, tc := range []struct{ dump, want string }{
		{"BUSY currently processing crawler request\r\n", "BUSY"},
		{"CLIENT_ERROR bad command line format\r\n", "CLIENT_ERROR"},
		{"key=a exp=-1 la=1 cas=1 fetch=no cls=1 size=70\n", "before END"},
	} {
		_, err := dumpFrom(t, tc.dump)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("dump %q: err = %v, want one containing %q", tc.dump, err, tc.want)
		}
	}
}
