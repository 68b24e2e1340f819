// Package mcfront is the memcached front end: it serves a pool's client
// connections in the memcached text protocol or the binary one (decided by
// a connection's first byte, as memcached does), and answers `stats`.
//
// Both protocols come down to one protocol-neutral request (request.go),
// which becomes the meta request (mg, ms, md, ma) the backends are sent in
// one place (session.start); text.go and binary.go only turn client bytes
// into requests and backend replies into client bytes. What happens to a
// request after that, on which servers and with how many copies, is the
// backend package's business.
package mcfront
