package luascript

import "testing"

// BenchmarkVetPhpredisUnlock is the cost an EVAL of phpredis's unlock
// script adds under scripts: safe.
func BenchmarkVetPhpredisUnlock(b *testing.B) {
	v := NewVetter("sessions", sessionCommands)
	script := []byte(phpredisUnlock)
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Vet(script); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKnownHas is the cost an EVALSHA adds under scripts: safe.
func BenchmarkKnownHas(b *testing.B) {
	k := NewKnown(MaxKnownScripts, MaxKnownBytes)
	k.Add([]byte(phpredisUnlock))
	sha := shaOf(phpredisUnlock)
	b.ReportAllocs()
	for b.Loop() {
		if !k.Has(sha) {
			b.Fatal("not known")
		}
	}
}

// BenchmarkKnownContains is the cost of an EVAL of a script vetted before.
func BenchmarkKnownContains(b *testing.B) {
	k := NewKnown(MaxKnownScripts, MaxKnownBytes)
	script := []byte(phpredisUnlock)
	k.Add(script)
	b.ReportAllocs()
	for b.Loop() {
		if !k.Contains(script) {
			b.Fatal("not known")
		}
	}
}
