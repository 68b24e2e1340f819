// Package certs loads the certificates a pool's TLS listener presents, and
// holds them so that a reload (SIGHUP) swaps them for new connections while
// connections already made keep theirs. It reads files and builds
// tls.Configs; it does not listen or handshake.
package certs
