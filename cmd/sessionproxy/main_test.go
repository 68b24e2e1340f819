package main

import "testing"

func TestProxyThreads(t *testing.T) {
	for _, c := range []struct {
		flag, cpus int
		env        bool
		want       int
	}{
		{0, 1, false, 1},
		{0, 2, false, 1},
		{0, 8, false, 4},
		{3, 2, false, 3},
		{3, 2, true, 3},
	} {
		if got := proxyThreads(c.flag, c.cpus, c.env); got != c.want {
			t.Errorf("proxyThreads(%d, %d, %v) = %d, want %d", c.flag, c.cpus, c.env, got, c.want)
		}
	}
}
