package chaos

import "testing"

func TestParseHealth(t *testing.T) {
	tests := []struct {
		name, text string
		states     string
		full       bool
	}{
		{"redis, redundant", "# Nodes\r\nredundant:yes\r\nnode0:name=r1,addr=127.0.0.1:1,state=up,redundant=yes\r\nnode1:name=r2,addr=127.0.0.1:2,state=up,redundant=yes\r\n",
			"r1=up r2=up redundant=yes", true},
		{"redis, a node still owed copies", "# Nodes\r\nredundant:no\r\nnode0:name=r1,addr=127.0.0.1:1,state=up,redundant=no\r\nnode1:name=r2,addr=127.0.0.1:2,state=up,redundant=yes\r\n",
			"r1=up r2=up redundant=no", false},
		{"redis, pool line yes but a node line no", "redundant:yes\r\nnode0:name=r1,addr=a,state=up,redundant=no\r\n",
			"r1=up redundant=yes", false},
		{"redis, no redundancy reported", "# Nodes\r\nnode0:name=r1,addr=127.0.0.1:1,state=up,failures=0\r\n",
			"r1=up redundant=(not reported)", false},
		{"redis, a node recovering", "redundant:yes\r\nnode0:name=r1,addr=a,state=recovering\r\n",
			"r1=recovering redundant=yes", false},
		{"memcache, redundant", "STAT node0 name=r1,addr=127.0.0.1:1,state=up,failures=0\r\nSTAT node1 name=r2,addr=127.0.0.1:2,state=up,failures=0\r\nSTAT redundant yes\r\n",
			"r1=up r2=up redundant=yes", true},
		{"memcache, a node down", "STAT node0 name=r1,addr=127.0.0.1:1,state=down,failures=3\r\nSTAT redundant no\r\n",
			"r1=down redundant=no", false},
		{"memcache, no redundancy reported", "STAT node0 name=r1,addr=127.0.0.1:1,state=up,failures=0\r\n",
			"r1=up redundant=(not reported)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := parseHealth(tt.text)
			if got := h.String(); got != tt.states {
				t.Errorf("String() = %q, want %q", got, tt.states)
			}
			if got := h.Full(); got != tt.full {
				t.Errorf("Full() = %v, want %v", got, tt.full)
			}
		})
	}
}
