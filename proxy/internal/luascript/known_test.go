package luascript

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func shaOf(script string) []byte {
	sum := sha1.Sum([]byte(script))
	return []byte(hex.EncodeToString(sum[:]))
}

func TestKnownFindsVettedScriptsByTheirSHA1InEitherCase(t *testing.T) {
	k := NewKnown(10, 1<<20)
	k.Add([]byte(phpredisUnlock))
	if !k.Contains([]byte(phpredisUnlock)) || k.Contains([]byte(phpredisUnlock+" ")) {
		t.Error("Contains does not tell the vetted script from another")
	}
	// phpredis sends this digest before falling back to EVAL.
	const phpredisSHA = "b70c2384248f88e6b75b9f89241a180f856ad852"
	for _, sha := range []string{phpredisSHA, strings.ToUpper(phpredisSHA)} {
		if !k.Has([]byte(sha)) {
			t.Errorf("Has(%s) = false after Add of the phpredis unlock script", sha)
		}
	}
	for _, sha := range []string{"", "b70c", phpredisSHA + "00", "zz0c2384248f88e6b75b9f89241a180f856ad852", string(shaOf("return 1"))} {
		if k.Has([]byte(sha)) {
			t.Errorf("Has(%q) = true", sha)
		}
	}
}

func TestKnownForgetsTheOldestPastItsScriptLimit(t *testing.T) {
	const limit = 100
	k := NewKnown(limit, 1<<20)
	script := func(i int) string { return fmt.Sprintf("return %d", i) }
	for i := range 3 * limit {
		k.Add([]byte(script(i)))
		k.Add([]byte(script(i))) // a second Add of the same script takes no slot
	}
	if n, _ := k.Len(); n != limit {
		t.Fatalf("Len = %d after %d scripts, want the limit %d", n, 3*limit, limit)
	}
	for i := range 3 * limit {
		if got, want := k.Has(shaOf(script(i))), i >= 2*limit; got != want {
			t.Errorf("script %d of %d: Has = %v, want %v (the newest %d are kept)", i, 3*limit, got, want, limit)
		}
	}
}

func TestKnownForgetsTheOldestPastItsByteLimit(t *testing.T) {
	const limit = 10000
	k := NewKnown(1000, limit)
	script := func(i int) string { return fmt.Sprintf("return %d --%s", i, strings.Repeat("x", 990)) } // about 1 KB
	for i := range 100 {
		k.Add([]byte(script(i)))
		if n, bytes := k.Len(); bytes > limit {
			t.Fatalf("after %d scripts, %d scripts of %d bytes are kept, over the limit %d", i+1, n, bytes, limit)
		}
	}
	if n, _ := k.Len(); n != 9 {
		t.Errorf("%d scripts of about 1 KB kept under a 10,000-byte limit, want 9", n)
	}
	if !k.Has(shaOf(script(99))) || k.Has(shaOf(script(90))) {
		t.Error("the newest script is forgotten, or an old one kept")
	}
	k.Add([]byte(strings.Repeat("x", limit+1)))
	if k.Contains([]byte(strings.Repeat("x", limit+1))) {
		t.Error("a script longer than the byte limit is kept")
	}
}

func TestKnownIsSafeForConcurrentSessions(t *testing.T) {
	k := NewKnown(50, 1<<20)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				s := fmt.Sprintf("return %d", g*1000+i)
				k.Add([]byte(s))
				k.Has(shaOf(s))
			}
		})
	}
	wg.Wait()
	if n, _ := k.Len(); n != 50 {
		t.Errorf("Len = %d, want 50", n)
	}
}
