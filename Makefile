# Build, vet and test the Kinesis autoscaler. `make test` is what CI runs (.ci/run).

GO ?= go
# The emulators the tests run; .ci/install-emulators and pkg/testkit/emulator both read it.
export EMULATOR_DIR ?= $(CURDIR)/.emulators
# Below CI's limit, and above what a test binary that hangs on an emulator should take.
TEST_TIMEOUT ?= 14m
# Extra go test flags, for example GOTESTFLAGS='-race -run TestX'.
GOTESTFLAGS ?=
# How long `make fuzz` runs each fuzz target.
FUZZTIME ?= 10s

.PHONY: build emulators test vet fuzz

build:
	CGO_ENABLED=0 $(GO) build -o kinesis-autoscaler ./cmd/kinesis-autoscaler

emulators:
	.ci/install-emulators

# -count=1: never report cached results; emulator-backed tests must really run.
test: emulators
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(GOTESTFLAGS) ./...
	$(MAKE) --no-print-directory fuzz

# Runs every fuzz target that `go test -list` finds for FUZZTIME. An input that
# fails is written to the package's testdata/fuzz/<target>/ and from then on
# runs as a seed in every `go test`.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$target for $(FUZZTIME)"; \
			$(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

vet:
	$(GO) vet ./...
