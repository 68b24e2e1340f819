package harness

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// RawConn is a plain TCP connection speaking RESP by hand, for what a client
// library hides: malformed input, exact reply bytes, RESP3 types, several
// commands in one write.
type RawConn struct {
	c       net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

// Reply is one RESP2 or RESP3 reply.
type Reply struct {
	// Kind is the type byte: '+' '-' ':' '$' '*' and RESP3's '_' ',' '#'
	// '!' '=' '(' '%' '~' '>'.
	Kind byte
	// Str is the text of a simple string, error, bulk, verbatim (without
	// its "txt:" prefix), double or big number.
	Str string
	// Int is an integer, or a boolean as 0/1.
	Int int64
	// Null is set for '_', "$-1" and "*-1".
	Null bool
	// Elems are an array's, set's or push's elements; a map's keys and
	// values alternate.
	Elems []Reply
}

// String renders the reply in one line, for messages.
func (r Reply) String() string {
	switch {
	case r.Null:
		return fmt.Sprintf("%c(nil)", r.Kind)
	case r.Kind == ':' || r.Kind == '#':
		return fmt.Sprintf("%c%d", r.Kind, r.Int)
	case r.Elems != nil || r.Kind == '*' || r.Kind == '%' || r.Kind == '~' || r.Kind == '>':
		parts := make([]string, len(r.Elems))
		for i, e := range r.Elems {
			parts[i] = e.String()
		}
		return fmt.Sprintf("%c[%s]", r.Kind, strings.Join(parts, " "))
	}
	return fmt.Sprintf("%c%q", r.Kind, r.Str)
}

// DialRaw connects to addr; the connection is closed when the test ends.
// Every read and write is bounded by 10 seconds.
func DialRaw(t testing.TB, addr string) *RawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("harness: dial %s: %v", addr, err)
	}
	rc := &RawConn{c: c, timeout: 10 * time.Second}
	t.Cleanup(rc.Close)
	return rc
}

// SetTimeout changes the bound of each later read and write.
func (rc *RawConn) SetTimeout(d time.Duration) { rc.timeout = d }

// Conn is the underlying connection.
func (rc *RawConn) Conn() net.Conn { return rc.c }

// Close closes the connection.
func (rc *RawConn) Close() { _ = rc.c.Close() }

// Write sends b as it is, in one write call.
func (rc *RawConn) Write(b []byte) error {
	_ = rc.c.SetWriteDeadline(time.Now().Add(rc.timeout))
	_, err := rc.c.Write(b)
	return err
}

// Do sends one command encoded as a RESP array and reads one reply.
func (rc *RawConn) Do(args ...string) (Reply, error) {
	if err := rc.Write(Command(args...)); err != nil {
		return Reply{}, err
	}
	return rc.ReadReply()
}

// Command encodes args as a RESP array of bulk strings.
func Command(args ...string) []byte {
	return AppendCommand(nil, args...)
}

// AppendCommand appends args encoded as a RESP array of bulk strings.
func AppendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}

func (rc *RawConn) reader() *bufio.Reader {
	if rc.r == nil {
		rc.r = bufio.NewReaderSize(rc.c, 64<<10)
	}
	return rc.r
}

// ReadReply reads one reply, waiting at most the connection's timeout.
func (rc *RawConn) ReadReply() (Reply, error) {
	_ = rc.c.SetReadDeadline(time.Now().Add(rc.timeout))
	return ReadReply(rc.reader())
}

// ReadLine reads one line without its "\r\n" (for memcached's text
// protocol, or to look at a reply's first line).
func (rc *RawConn) ReadLine() (string, error) {
	_ = rc.c.SetReadDeadline(time.Now().Add(rc.timeout))
	line, err := rc.reader().ReadString('\n')
	return strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), err
}

// WaitClosed reads until the peer closes the connection (nil), timeout
// passes or a read fails otherwise (an error). Any bytes read meanwhile are
// returned.
func (rc *RawConn) WaitClosed(timeout time.Duration) (string, error) {
	_ = rc.c.SetReadDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(rc.reader())
	if err == nil {
		return string(b), nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return string(b), fmt.Errorf("connection still open after %v", timeout)
	}
	if errors.Is(err, net.ErrClosed) {
		return string(b), err
	}
	// A reset is the peer closing too.
	if strings.Contains(err.Error(), "connection reset") {
		return string(b), nil
	}
	return string(b), err
}

// maxBulk bounds what ReadReply accepts, so that a broken peer cannot make
// a test allocate gigabytes.
const maxBulk = 64 << 20

// ReadReply reads one RESP2 or RESP3 reply from r. RESP3 attributes ('|')
// are read and dropped.
func ReadReply(r *bufio.Reader) (Reply, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return Reply{}, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return Reply{}, fmt.Errorf("resp: malformed line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	rep := Reply{Kind: kind}
	switch kind {
	case '+', '-', ',', '(':
		rep.Str = body
	case ':':
		rep.Int, err = strconv.ParseInt(body, 10, 64)
	case '#':
		switch body {
		case "t":
			rep.Int = 1
		case "f":
		default:
			err = fmt.Errorf("resp: bad boolean %q", body)
		}
	case '_':
		rep.Null = true
	case '$', '!', '=':
		n, perr := strconv.Atoi(body)
		switch {
		case perr != nil || n < -1 || n > maxBulk:
			return rep, fmt.Errorf("resp: bad length in %q", line)
		case n == -1:
			rep.Null = true
			return rep, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return rep, err
		}
		if buf[n] != '\r' || buf[n+1] != '\n' {
			return rep, fmt.Errorf("resp: bulk of %d bytes not followed by CRLF", n)
		}
		rep.Str = string(buf[:n])
		if kind == '=' && len(rep.Str) >= 4 && rep.Str[3] == ':' {
			rep.Str = rep.Str[4:]
		}
	case '*', '~', '>', '%', '|':
		n, perr := strconv.Atoi(body)
		if perr != nil || n < -1 || n > 1<<24 {
			return rep, fmt.Errorf("resp: bad count in %q", line)
		}
		if n == -1 {
			rep.Null = true
			return rep, nil
		}
		if kind == '%' || kind == '|' {
			n *= 2
		}
		rep.Elems = make([]Reply, 0, n)
		for range n {
			e, err := ReadReply(r)
			if err != nil {
				return rep, err
			}
			rep.Elems = append(rep.Elems, e)
		}
		if kind == '|' {
			return ReadReply(r)
		}
	default:
		return rep, fmt.Errorf("resp: unknown type byte in %q", line)
	}
	return rep, err
}

// DialRawErr is DialRaw for code without a testing.TB (goroutines, chaos
// programs): the caller closes the connection.
func DialRawErr(addr string, timeout time.Duration) (*RawConn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return &RawConn{c: c, timeout: timeout}, nil
}
