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
	k := NewKnown(10)
	k.Add([]byte(phpredisUnlock))
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

func TestKnownForgetsTheOldestPastItsLimit(t *testing.T) {
	const limit = 100
	k := NewKnown(limit)
	script := func(i int) string { return fmt.Sprintf("return %d", i) }
	for i := range 3 * limit {
		k.Add([]byte(script(i)))
		k.Add([]byte(script(i))) // a second Add of the same script takes no slot
	}
	if n := k.Len(); n != limit {
		t.Fatalf("Len = %d after %d scripts, want the limit %d", n, 3*limit, limit)
	}
	for i := range 3 * limit {
		if got, want := k.Has(shaOf(script(i))), i >= 2*limit; got != want {
			t.Errorf("script %d of %d: Has = %v, want %v (the newest %d are kept)", i, 3*limit, got, want, limit)
		}
	}
}

func TestKnownIsSafeForConcurrentSessions(t *testing.T) {
	k := NewKnown(50)
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
	if n := k.Len(); n != 50 {
		t.Errorf("Len = %d, want 50", n)
	}
}
