package memcache

import (
	"slices"
	"strings"
	"testing"
)

func TestMetaRequestEncoders(t *testing.T) {
	for _, tt := range []struct {
		name string
		got  []byte
		want string
	}{
		{"mg", AppendMetaRequest(nil, "mg", []byte("sess:1"), "v", "f", "c"), "mg sess:1 v f c\r\n"},
		{"md", AppendMetaRequest(nil, "md", []byte("k")), "md k\r\n"},
		{"ma decr", AppendMetaRequest(nil, "ma", []byte("n"), MetaFlag('D', 5), "v", "MD"), "ma n D5 v MD\r\n"},
		{"mg touch", AppendMetaRequest(nil, "mg", []byte("k"), MetaFlag('T', -1)), "mg k T-1\r\n"},
		{"set", AppendMetaSet(nil, []byte("k"), []byte("hello"), 768, 1700000000, ""), "ms k 5 F768 T1700000000 c\r\nhello\r\n"},
		{"add", AppendMetaSet(nil, []byte("k"), []byte("x"), 0, 0, "ME"), "ms k 1 F0 T0 ME c\r\nx\r\n"},
		{"replace with cas", AppendMetaSet(nil, []byte("k"), nil, 1, -1, "MR C42"), "ms k 0 F1 T-1 MR C42 c\r\n\r\n"},
		{"append", AppendMetaAppend(nil, []byte("k"), []byte("tail"), "MA"), "ms k 4 MA c\r\ntail\r\n"},
		{"prepend", AppendMetaAppend([]byte("x"), []byte("k"), []byte("h"), "MP"), "xms k 1 MP c\r\nh\r\n"},
	} {
		if string(tt.got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestMetaRequestLenIsWhatAppendMetaRequestAppends(t *testing.T) {
	for _, flags := range [][]string{nil, {"v"}, {"v", "f", "c", "T3600"}} {
		want := len(AppendMetaRequest(nil, "mg", []byte("session:abc"), flags...))
		if got := MetaRequestLen("mg", []byte("session:abc"), flags...); got != want {
			t.Errorf("MetaRequestLen with flags %q = %d, want %d", flags, got, want)
		}
	}
}

// The encoders append to a buffer with room without allocating: the proxy
// builds every backend request of a batch in one arena.
func TestMetaEncodersDoNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 4096)
	key, data := []byte("sess:1"), []byte(strings.Repeat("v", 2048))
	flags := []string{"v", "f", "c"}
	if n := testing.AllocsPerRun(100, func() {
		AppendMetaRequest(buf, "mg", key, flags...)
		AppendMetaSet(buf, key, data, 7, 1700000000, "ME")
		AppendMetaAppend(buf, key, data, "MA")
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func TestParseMetaItem(t *testing.T) {
	for _, tt := range []struct {
		frame string
		want  MetaItem
		ok    bool
	}{
		{"VA 2 f7 c42\r\nhi\r\n", MetaItem{Hit: true, Flags: 7, CAS: 42, Data: []byte("hi")}, true},
		{"VA 5 f768 t100\r\nhello\r\n", MetaItem{Hit: true, Flags: 768, TTL: 100, Data: []byte("hello")}, true},
		{"VA 1 f0 t-1\r\nx\r\n", MetaItem{Hit: true, TTL: -1, Data: []byte("x")}, true},
		{"VA 0\r\n\r\n", MetaItem{Hit: true, Data: []byte{}}, true},
		{"VA 2 fx c\r\nhi\r\n", MetaItem{Hit: true, Data: []byte("hi")}, true}, // unreadable flags are ignored
		{"EN\r\n", MetaItem{}, true},
		{"SERVER_ERROR out of memory\r\n", MetaItem{}, false},
		{"HD\r\n", MetaItem{}, false},
		{"VA 2 f7\r\n", MetaItem{}, false}, // no data block
		{"", MetaItem{}, false},
	} {
		got, ok := ParseMetaItem([]byte(tt.frame))
		if ok != tt.ok || got.Hit != tt.want.Hit || got.Flags != tt.want.Flags || got.CAS != tt.want.CAS ||
			got.TTL != tt.want.TTL || string(got.Data) != string(tt.want.Data) {
			t.Errorf("ParseMetaItem(%q) = %+v, %v; want %+v, %v", tt.frame, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMetaCAS(t *testing.T) {
	for frame, want := range map[string]uint64{
		"HD c99\r\n":               99,
		"VA 2 f0 c7 t-1\r\nab\r\n": 7,
		"VA 2 f0\r\nc9\r\n":        0, // a c in the data is no flag
		"HD\r\n":                   0,
		"c5 HD\r\n":                0, // the status is not a flag
		"":                         0,
	} {
		if c := MetaCAS([]byte(frame)); c != want {
			t.Errorf("MetaCAS(%q) = %d, want %d", frame, c, want)
		}
	}
}

func TestMetaStatus(t *testing.T) {
	for frame, want := range map[string]string{
		"HD c1\r\n": "HD", "NS\r\n": "NS", "EX\r\n": "EX", "NF\r\n": "NF", "EN\r\n": "EN",
		"VA 1\r\nx\r\n": "VA", "H": "", "": "",
	} {
		if got := MetaStatus([]byte(frame)); got != want {
			t.Errorf("MetaStatus(%q) = %q, want %q", frame, got, want)
		}
	}
}

func TestSplitMetaValueAndTokens(t *testing.T) {
	meta, data, ok := SplitMetaValue([]byte("VA 3 f1  t20 c3\r\nabc\r\n"))
	if !ok || string(meta) != "VA 3 f1  t20 c3" || string(data) != "abc" {
		t.Fatalf("SplitMetaValue = %q, %q, %v", meta, data, ok)
	}
	var toks []string
	for tok := range MetaTokens(meta) {
		toks = append(toks, string(tok))
	}
	if !slices.Equal(toks, []string{"f1", "t20", "c3"}) {
		t.Errorf("MetaTokens = %q", toks)
	}
	for _, bad := range []string{"EN\r\n", "VA 3", "VA 3\r\n"} {
		if _, _, ok := SplitMetaValue([]byte(bad)); ok {
			t.Errorf("SplitMetaValue(%q) split a frame without data", bad)
		}
	}
}

// A set encoded by AppendMetaSet and read back as memcached answers it
// keeps its flags and data.
func TestMetaSetRoundTripsThroughTheItem(t *testing.T) {
	req := AppendMetaSet(nil, []byte("k"), []byte("v a l"), 4242, 0, "")
	var r TextRequest
	n, err := r.Parse(req, Limits{})
	if err != nil || n != len(req) || r.Command != CmdMetaSet || string(r.Data) != "v a l" {
		t.Fatalf("the text parser reads %q as %v %q (n %d, err %v)", req, r.Command, r.Data, n, err)
	}
	it, ok := ParseMetaItem([]byte("VA 5 f4242\r\nv a l\r\n"))
	if !ok || it.Flags != 4242 || string(it.Data) != "v a l" {
		t.Fatalf("ParseMetaItem = %+v, %v", it, ok)
	}
}

func FuzzParseMetaItem(f *testing.F) {
	for _, s := range []string{"VA 2 f7 c42\r\nhi\r\n", "EN\r\n", "HD c5\r\n", "VA 1 t-1\r\nx\r\n", "VA \r\n\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		it, ok := ParseMetaItem(b)
		if ok && it.Hit && len(it.Data) > len(b) {
			t.Fatalf("ParseMetaItem(%q): data longer than the frame", b)
		}
		MetaCAS(b)
		MetaStatus(b)
		if meta, data, ok := SplitMetaValue(b); ok {
			if len(meta)+len(data) > len(b) {
				t.Fatalf("SplitMetaValue(%q): %d+%d bytes of %d", b, len(meta), len(data), len(b))
			}
			for tok := range MetaTokens(meta) {
				if len(tok) == 0 {
					t.Fatalf("MetaTokens(%q) yielded an empty token", meta)
				}
			}
		}
	})
}
