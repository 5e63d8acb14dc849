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
# Where .ci/install-staticcheck puts staticcheck (pinned there).
export TOOLS_DIR ?= $(CURDIR)/.tools
# The packages with concurrency, tested again under the race detector.
RACE_PACKAGES ?= ./pkg/controller/ ./pkg/lease/ ./pkg/stream/ ./pkg/observe/

.PHONY: build emulators test vet fuzz staticcheck race

build:
	CGO_ENABLED=0 $(GO) build -o kinesis-autoscaler ./cmd/kinesis-autoscaler

emulators:
	.ci/install-emulators

# -count=1: never report cached results; emulator-backed tests must really run.
test: emulators staticcheck
	# The image is built for arm64 (Graviton) too: every package must compile there.
	GOARCH=arm64 $(GO) build ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $(GOTESTFLAGS) ./...
	$(MAKE) --no-print-directory race
	$(MAKE) --no-print-directory fuzz

# staticcheck over every package, at the version .ci/install-staticcheck pins.
staticcheck:
	.ci/install-staticcheck
	$(TOOLS_DIR)/bin/staticcheck ./...

# The packages that run goroutines, under the race detector (-p 1: the
# emulators they start share the machine).
race: emulators
	$(GO) test -race -count=1 -p 1 -timeout $(TEST_TIMEOUT) $(RACE_PACKAGES)

# Runs every fuzz target that `go test -list` finds for FUZZTIME; see .ci/fuzz.
fuzz:
	GO=$(GO) .ci/fuzz $(FUZZTIME)

vet:
	$(GO) vet ./...
