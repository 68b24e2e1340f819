// Package config loads and validates sessionproxy's configuration file.
//
// The file is twemproxy's (nutcracker) YAML: a map of named pools, each with
// its listen address and servers, so an existing nutcracker.yml loads
// unchanged. A few keys extend it (replicas, auth, allow_flush, ...); see
// docs/configuration.md. Every error names the file, the line, the pool, the
// key and what was expected. The package only reads and checks: it never
// resolves host names, dials servers or opens listeners.
package config
