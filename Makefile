# sessionproxy — see README.md. `make run` starts a demo, `make test` runs every test.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
PKGS     := ./...
DEBS     := redis-server redis-tools memcached libmemcached-tools php8.2-cli php-redis php-memcached php-memcache python3-redis python3-django python3-pymemcache libspymemcached-java nginx-light php8.2-fpm nutcracker prometheus chromium python3-pylibmc systemd
STATICCHECK ?= v0.8.2
# How long make fuzz (part of make test) runs each fuzz target.
FUZZTIME ?= 10s

.PHONY: build run test unit fuzz integration lint deps node-clients bench chaos clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/sessionproxy ./cmd/sessionproxy

# Installs the Debian packages the demo and the tests use, when missing
# (make bench adds nutcracker).
deps:
	@missing=""; for p in $(DEBS) $(EXTRA_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@command -v javac >/dev/null 2>&1 || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq default-jdk-headless; }

# The node session stores the integration tests drive (versions pinned in
# integration/nodeclient/package-lock.json).
node-clients:
	@command -v npm >/dev/null 2>&1 || { SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm; }
	@cd integration/nodeclient && { [ -d node_modules/connect-redis ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }

run: deps build
	$(GO) build -o bin/sessionproxy-demo ./cmd/sessionproxy-demo
	bin/sessionproxy-demo -proxy bin/sessionproxy

test: deps node-clients lint unit fuzz integration

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK) $(PKGS)

unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /integration)

# Each fuzz target (func FuzzXxx in a _test.go file) for FUZZTIME, one
# go test invocation per target since Go fuzzes one target at a time. The
# seeds and any crasher kept in testdata/fuzz already run in make unit; this
# looks for new ones. A crasher found is written to the package's
# testdata/fuzz/FuzzXxx/ and fails the run.
fuzz:
	@set -e; for f in $$(git ls-files --cached --others --exclude-standard '*_test.go' | xargs grep -l '^func Fuzz' | sort); do \
		for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "fuzz ./$$(dirname $$f) $$name for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$(dirname $$f); \
		done; \
	done

integration: build
	$(GO) test -race -count=1 -timeout 20m ./integration/...

# The chaos suite at full size (docs/consistency.md): every fault scenario on
# Redis and memcached backends, >= 100k operations each, table at the end.
# Exits non-zero while any scenario that must be safe shows a bad read.
chaos: deps build
	$(GO) run ./integration/chaos/cmd/chaos -proxy bin/sessionproxy

# Go benchmarks of the parsers, placement and the proxy hot path (over fake
# in-process backends, allocations reported), then the side-by-side run of
# docs/benchmarks.md: direct servers, nutcracker, sessionproxy replicas 1
# and 2, then the resync of a node restarted empty (10–20 minutes and some
# more; the results replace the generated parts of docs/benchmarks.md).
bench: build
	$(MAKE) deps EXTRA_DEBS=nutcracker
	$(GO) test -run '^$$' -bench . -benchmem ./protocol/... ./sharding/... ./proxy/
	$(GO) run ./integration/bench/cmd/bench -proxy bin/sessionproxy -out docs/benchmarks.md

clean:
	rm -rf bin
