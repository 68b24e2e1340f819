package sharding

import "strings"

// twemproxyKetamaPoints builds twemproxy's ketama continuum
// (src/hashkit/nc_ketama.c, ketama_update) over the live servers: each
// server gets weightedPointCount points, four per md5 digest of
// "<label>-<i>", where the label is the server's name, or for a server
// without a name its address with ":11211" left out (src/nc_conf.c,
// conf_add_server). Points and weight shares are computed over the live
// servers only, as twemproxy rebuilds its continuum when auto_eject_hosts
// ejects one.
func twemproxyKetamaPoints(servers []Server, liveIdx []int) []continuumPoint {
	return weightedKetamaPoints(servers, liveIdx, twemproxyServerLabel)
}

// twemproxyServerLabel is the name twemproxy hashes for s. twemproxy cannot
// tell an explicit name equal to the address from no name; neither can
// this, and an explicit name "host:11211" is taken as no name (hashed as
// "host").
func twemproxyServerLabel(s Server) string {
	if isUnnamed(s) && s.Port == 11211 {
		return strings.TrimSuffix(s.Name, ":11211")
	}
	return s.Name
}
