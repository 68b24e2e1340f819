package sharding

import "errors"

var (
	// ErrUnknownHash is returned by NewHash for a name it does not know.
	ErrUnknownHash = errors.New("sharding: unknown hash")

	// ErrUnknownDistribution is returned by ParseDistribution for a name it
	// does not know.
	ErrUnknownDistribution = errors.New("sharding: unknown distribution")

	// ErrNoServers is returned by NewRing for an empty server list and by
	// Ring.Without when every server is down.
	ErrNoServers = errors.New("sharding: no servers")

	// ErrBadConfig is wrapped by every error NewRing returns for an invalid
	// Config or server list (except ErrNoServers).
	ErrBadConfig = errors.New("sharding: bad ring config")
)
