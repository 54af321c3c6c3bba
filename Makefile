# strata - see README.md. `make demo` sets up and runs the main job,
# `make test` runs every test.
GO ?= go
BIN := bin/strata
GOFLAGS_TEST ?= -count=1

.PHONY: all deps build demo test unit e2e vet fmt conformance bench clean fuzz docs image k8scheck

all: build

deps:
	@scripts/deps.sh

build:
	$(GO) build -o $(BIN) ./cmd/strata

# strata's own image (./Dockerfile), built by bin/strata into its store and
# saved to bin/strata-image.tar for docker load (scripts/mkimage.sh).
IMAGE ?= strata:dev
image: build
	scripts/mkimage.sh $(IMAGE)

demo: deps build
	scripts/demo.sh

vet:
	@test -z "$$(gofmt -l cmd internal test)" || { gofmt -l cmd internal test; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

# All tests: unit tests of every package (root, overlayfs and namespaces are
# required: CI runs as root), then the end-to-end tests against the binary,
# Debian's docker-registry and a busybox base made from busybox-static, then
# docs/ci's examples (k8scheck), the conformance suite and the fuzz targets
# (below).
test: deps build vet
	$(GO) test $(GOFLAGS_TEST) -timeout 45m $$($(GO) list ./... | grep -v '/test/conformance$$')
	$(MAKE) k8scheck
	$(MAKE) conformance
	$(MAKE) fuzz

# docs/ci's Kubernetes manifests, decoded strictly into k8s.io/api's types and
# checked as the API server would check a Job, and its CI examples' keys
# (tools/k8scheck, a module of its own: strata does not depend on Kubernetes).
k8scheck:
	cd tools/k8scheck && $(GO) vet ./... && $(GO) test $(GOFLAGS_TEST) ./...

# The command reference (Markdown and man pages) generated from the CLI;
# tools/gendocs's test fails when docs/reference is stale.
docs:
	$(GO) run ./tools/gendocs docs/reference

# Every fuzz target for FUZZTIME each (the checked-in corpora in the packages'
# testdata/fuzz are the seeds; new inputs stay in Go's cache; a crash fails
# and writes the input to testdata/fuzz/<Target>/ for a regression test).
# The budget is a count of executions, not a duration: with a duration, Go's
# fuzz coordinator can fail a target with a bare "context deadline exceeded"
# when a loaded machine keeps a worker busy past the deadline
# (golang/go#75804); a count has no deadline to race.
FUZZTIME ?= 4000x
FUZZ_TARGETS := internal/dockerfile:FuzzParse internal/plan:FuzzPlan internal/layer:FuzzExtract internal/output:FuzzReadArchive internal/buildcontext:FuzzSelectDigest internal/fscopy:FuzzCopy

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$fn ($$pkg) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 100x ./$$pkg; \
	done

# The conformance suite (test/conformance/README.md): every case built by
# docker's BuildKit (a private dockerd) and by strata, root and rootless,
# compared file by file and config by config; the cases of
# testdata/native-cases.txt with the native snapshotter too. The test binary
# is run directly so that its per-case lines and summary are printed.
# CONFORMANCE_ONLY=a,b runs some cases; CONFORMANCE_SELFTEST=1 docker twice;
# CONFORMANCE_MODES=root,rootless,native,rootless-native CONFORMANCE_NATIVE_CASES=
# every case in every mode.
CONFORMANCE_MODES ?= root,rootless,native
CONFORMANCE_NATIVE_CASES ?= testdata/native-cases.txt
CONFORMANCE_TIMEOUT ?= 45m
conformance:
	$(GO) test -c -o bin/conformance.test ./test/conformance
	cd test/conformance && CONFORMANCE_MODES=$(CONFORMANCE_MODES) CONFORMANCE_NATIVE_CASES=$(CONFORMANCE_NATIVE_CASES) \
		../../bin/conformance.test -test.timeout $(CONFORMANCE_TIMEOUT)

# strata against BuildKit and buildah (bench/run.sh --help; BENCH_ARGS=--quick).
bench: build
	STRATA=$(CURDIR)/$(BIN) bench/run.sh $(BENCH_ARGS)

clean:
	rm -rf bin
