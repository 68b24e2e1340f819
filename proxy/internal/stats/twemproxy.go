package stats

import (
	"encoding/json"
	"os"
	"strconv"
	"time"
)

// twemproxyJSON is nutcracker's stats document, with its field names and
// layout: the process's fields, then one object per pool holding the
// pool's fields and one object per server. The values are the proxy's own
// counters under twemproxy's meaning of each name.
func (s *Server) twemproxyJSON(now time.Time) []byte {
	host, _ := os.Hostname()
	var total, curr int64
	for _, p := range s.pools {
		total += p.clients.Stats().Received.Load()
		curr += p.clients.Stats().Connected.Load()
	}
	var b jsonObject
	b.open()
	b.str("service", "sessionproxy")
	b.str("source", host)
	b.str("version", s.version)
	b.int("uptime", int64(now.Sub(s.started).Seconds()))
	b.int("timestamp", now.Unix())
	b.int("total_connections", total)
	b.int("curr_connections", curr)
	for _, p := range s.pools {
		cs := p.clients.Stats()
		servers := p.backend.ServerStats()
		var ejects int64
		for _, st := range servers {
			ejects += st.Ejections
		}
		b.key(p.name)
		b.open()
		b.int("client_eof", cs.EOF.Load())
		b.int("client_err", cs.Err.Load())
		b.int("client_connections", cs.Connected.Load())
		b.int("server_ejects", ejects)
		b.int("forward_error", p.forwardErrors())
		b.int("fragments", int64(p.fragments.Load()))
		for _, st := range servers {
			b.key(st.Name)
			b.open()
			b.int("server_eof", st.EOF)
			b.int("server_err", st.Err)
			b.int("server_timedout", st.TimedOut)
			b.int("server_connections", st.Connections)
			var ejectedAt int64
			if !st.EjectedAt.IsZero() {
				ejectedAt = st.EjectedAt.UnixMicro() // nutcracker's is in microseconds
			}
			b.int("server_ejected_at", ejectedAt)
			b.int("requests", st.Requests)
			b.int("request_bytes", st.RequestBytes)
			b.int("responses", st.Responses)
			b.int("response_bytes", st.ResponseBytes)
			b.int("in_queue", st.InQueue)
			b.int("in_queue_bytes", st.InQueueBytes)
			b.int("out_queue", st.OutQueue)
			b.int("out_queue_bytes", st.OutQueueBytes)
			b.close()
		}
		b.close()
	}
	b.close()
	return append(b.buf, '\n')
}

// jsonObject writes JSON objects in the order of their fields, as
// nutcracker does (encoding/json sorts map keys).
type jsonObject struct {
	buf   []byte
	first bool
}

func (o *jsonObject) open() { o.buf, o.first = append(o.buf, '{'), true }

func (o *jsonObject) close() { o.buf, o.first = append(o.buf, '}'), false }

func (o *jsonObject) key(k string) {
	if !o.first {
		o.buf = append(o.buf, ", "...)
	}
	o.first = false
	name, _ := json.Marshal(k)
	o.buf = append(append(o.buf, name...), ':')
}

func (o *jsonObject) str(k, v string) {
	o.key(k)
	value, _ := json.Marshal(v)
	o.buf = append(o.buf, value...)
}

func (o *jsonObject) int(k string, v int64) {
	o.key(k)
	o.buf = strconv.AppendInt(o.buf, v, 10)
}
