package backend

import (
	"fmt"
	"strconv"
	"strings"
)

// NodeLines is the health of the pool and of each backend, as INFO nodes
// and `stats nodes` show it: the pool's redundancy first, then one line a
// node.
func (p *Pool) NodeLines() [][2]string {
	statuses := p.cluster.Statuses()
	redundant := true
	for _, st := range statuses {
		redundant = redundant && st.Redundant
	}
	out := [][2]string{{"redundant", yesNo(redundant)}}
	for _, st := range statuses {
		rs := p.repair.progress[st.Index].status()
		out = append(out, [2]string{"node" + strconv.Itoa(st.Index), fmt.Sprintf(
			"name=%s,addr=%s,state=%s,redundant=%s,failures=%d,missed_keys=%d,full_resync_needed=%d,"+
				"owed_partitions=%d,owed_from=%s,resync=%s,resync_keys_copied=%d,resync_keys_left=%d,resync_keys_per_sec=%d,"+
				"transitions=%d,last_change=%d,last_error=%s",
			st.Name, st.Addr, st.State, yesNo(st.Redundant), st.Failures, st.MissedKeys, boolInt(st.Overflow),
			st.OwedPartitions, strings.Join(st.OwedFrom, "+"), resyncState(rs), rs.Copied, rs.Left, rs.PerSecond,
			st.Transitions, st.LastChange.Unix(), infoValue(st.LastError))})
	}
	return out
}

// resyncState names a node's latest bulk copy: none, running, or done.
func resyncState(rs resyncStatus) string {
	switch {
	case rs.Reason == "":
		return "none"
	case rs.Running:
		return "running"
	}
	return "done"
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}

// infoValue keeps a free-text value on one INFO line.
func infoValue(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ", ",", ";").Replace(s)
}
