package memcache

// Defaults used when a Limits field is zero.
const (
	// DefaultItemSizeMax is memcached's default -I (item_size_max), 1 MiB.
	DefaultItemSizeMax = 1 << 20

	// DefaultMaxKeyLen is memcached's KEY_MAX_LENGTH.
	DefaultMaxKeyLen = 250

	// DefaultMaxLineLen is the longest text command line memcached answers:
	// its read buffer (READ_BUFFER_SIZE) holds 16 KiB, and a longer line
	// that is not a multiget closes the connection.
	DefaultMaxLineLen = 16 << 10

	// DefaultMaxGetLineLen bounds get/gets/gat/gats lines, which memcached
	// lets grow without limit (it switches to a malloc'd read buffer).
	DefaultMaxGetLineLen = 1 << 20
)

// Limits bounds what the parsers accept from a client. The zero value means
// memcached's defaults.
type Limits struct {
	// ItemSizeMax is the largest value accepted, in bytes, like memcached's
	// -I. Default DefaultItemSizeMax (1 MiB).
	//
	// memcached compares the whole item (header, key, suffix and value)
	// against its slab limit, so a backend may refuse values slightly smaller
	// than this; it then answers with the same error the proxy would.
	ItemSizeMax int

	// MaxKeyLen is the longest key accepted. Default DefaultMaxKeyLen (250),
	// the most memcached supports.
	MaxKeyLen int

	// MaxLineLen is the longest text command line (without "\r\n") for
	// commands other than get/gets/gat/gats. Longer lines close the
	// connection, as memcached does. Default DefaultMaxLineLen (16 KiB).
	MaxLineLen int

	// MaxGetLineLen is the longest get/gets/gat/gats line. memcached has no
	// limit; the proxy needs one to bound its buffers. A longer line with
	// an over-long key is answered as memcached answers it and skipped; one
	// of valid keys closes the connection. Default DefaultMaxGetLineLen
	// (1 MiB, about 4000 keys of 250 bytes).
	MaxGetLineLen int
}

// withDefaults fills zero fields with the defaults.
func (l Limits) withDefaults() Limits {
	if l.ItemSizeMax <= 0 {
		l.ItemSizeMax = DefaultItemSizeMax
	}
	if l.MaxKeyLen <= 0 {
		l.MaxKeyLen = DefaultMaxKeyLen
	}
	if l.MaxLineLen <= 0 {
		l.MaxLineLen = DefaultMaxLineLen
	}
	if l.MaxGetLineLen <= 0 {
		l.MaxGetLineLen = DefaultMaxGetLineLen
	}
	if l.MaxGetLineLen < l.MaxLineLen {
		l.MaxGetLineLen = l.MaxLineLen
	}
	return l
}
