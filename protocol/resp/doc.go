// Package resp turns the bytes of the Redis protocol into requests and
// replies into bytes: it parses client commands (RESP multibulk and the
// inline form), finds reply frame boundaries (RESP2 and RESP3), re-encodes
// RESP2 replies for clients that switched to RESP3 with HELLO 3, and encodes
// the few frames redcon cannot.
//
// It never does I/O, never routes, and decodes nothing into Go values. The
// hot-path functions (ParseCommand, ScanReply, the reply inspectors, the
// encoders) do not allocate when given slices with room; arguments and
// frames are sub-slices of the caller's buffer. Parser and ReplyScanner are
// the same parsers with memory, for a connection whose requests or replies
// arrive over many reads.
//
// Client-facing behaviour follows Redis's networking.c (processMultibulkBuffer,
// processInlineBuffer, sdssplitargs): the same requests are accepted and the
// same "Protocol error: ..." texts are produced, so a client cannot tell the
// proxy's parser from the server's.
package resp
