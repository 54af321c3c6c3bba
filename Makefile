# strata - see README.md. `make demo` sets up and runs the main job,
# `make test` runs every test.
GO ?= go
BIN := bin/strata
GOFLAGS_TEST ?= -count=1

.PHONY: all deps build demo test unit e2e vet fmt conformance bench clean

all: build

deps:
	@scripts/deps.sh

build:
	$(GO) build -o $(BIN) ./cmd/strata

demo: deps build
	scripts/demo.sh

vet:
	@test -z "$$(gofmt -l cmd internal test)" || { gofmt -l cmd internal test; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

# All tests: unit tests of every package (root, overlayfs and namespaces are
# required: CI runs as root), then the end-to-end tests against the binary,
# Debian's docker-registry and a busybox base made from busybox-static.
test: deps build vet
	$(GO) test $(GOFLAGS_TEST) -timeout 25m ./...

conformance: build
	STRATA=$(CURDIR)/$(BIN) ../shared/conformance/run.sh

clean:
	rm -rf bin
