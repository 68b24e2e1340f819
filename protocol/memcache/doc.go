// Package memcache turns what memcached clients send into requests, and the
// proxy's replies to them into bytes: the text protocol (classic commands and
// the meta commands) and the binary protocol, as a client speaks them to a
// memcached server. It never does I/O, never routes and keeps no
// per-connection state.
//
// Parsers take the caller's buffer and return sub-slices of it (keys, data,
// extras), valid until the caller reuses the buffer; on the hot path
// (TextRequest.Parse, ParseBinary and the Append encoders given enough
// capacity) they do not allocate. An incomplete buffer is reported as n == 0
// with a nil error, so callers read more and call again.
//
// Client-facing behaviour follows memcached 1.6 (proto_text.c, proto_bin.c,
// util.c): the same commands are accepted, the same reply lines are produced
// for the same mistakes, and a rejected value is swallowed the way memcached
// swallows it, so a client cannot tell the proxy's parser from the server's.
// The few places where this package is deliberately stricter or more robust
// than memcached 1.6.18 are called out where they happen (search for
// "Deviation").
package memcache
