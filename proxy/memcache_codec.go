package proxy

import (
	"context"
	"errors"
	"net"
	"time"
)

// memcacheCodec talks to memcached backends. Not implemented yet.
type memcacheCodec struct{}

var errMemcacheTODO = errors.New("memcached backends not implemented yet")

func (memcacheCodec) newScanner() frameScanner { return nil }
func (memcacheCodec) handshake(nc net.Conn, db int, timeout time.Duration) (string, error) {
	return "", errMemcacheTODO
}
func (memcacheCodec) captureRequests(key []byte) [][]byte { return nil }
func (memcacheCodec) parseState(replies [][]byte) (keyState, error) {
	return keyState{}, errMemcacheTODO
}
func (memcacheCodec) restoreRequest(key []byte, st keyState) []byte { return nil }
func (memcacheCodec) replyError(frame []byte) string                { return "" }
func (memcacheCodec) flushRequest() []byte                          { return nil }
func (memcacheCodec) eachKey(ctx context.Context, p *pool, node int, fn func(db int, key []byte) error) error {
	return errMemcacheTODO
}
func (memcacheCodec) newProber(p *pool) prober { return nil }
