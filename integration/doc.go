// Package integration proves sessionproxy's user-visible behaviour against
// real redis-server processes and the real binary, driven by go-redis,
// redis-cli and raw RESP the way PHP, Python and node clients talk. The
// processes come from package harness; the tests are in *_test.go files,
// each named after the behaviour it proves.
package integration
