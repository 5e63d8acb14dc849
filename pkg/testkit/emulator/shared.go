package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/awsclient"
)

// Region is the AWS region of every client this package builds.
const Region = "us-east-1"

// Static credentials that the emulators accept; they are not checked.
const (
	AccessKeyID     = "AKIDEMULATOR"
	SecretAccessKey = "emulator-secret"
)

// AWSConfig returns an aws.Config with Region and static fake credentials and nothing
// read from the environment or ~/.aws. Set the endpoint per client with BaseEndpoint.
func AWSConfig() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		// The daemon's HTTP client (awsclient.Load uses it too).
		HTTPClient: awsclient.OwnBodies(nil),
	}
}

// OptionalEnv names the environment variable that lets a test binary pass
// with tests skipped for want of an emulator: EMULATORS_OPTIONAL=1.
const OptionalEnv = "EMULATORS_OPTIONAL"

// skipped counts, by reason, the tests Require skipped in this test binary.
var skipped = struct {
	sync.Mutex
	byReason map[string]int
}{byReason: map[string]int{}}

// Require ends tb when err, from LaunchKinesis or LaunchKumo, is not nil: it skips when
// the emulator is not installed and the CI environment variable is unset, and fails
// otherwise. The message names .ci/install-emulators. A skip is not silent:
// RunTests reports every one at the end, and fails the test binary unless
// EMULATORS_OPTIONAL=1 says skipping is meant.
func Require(tb testing.TB, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, ErrNotInstalled) && os.Getenv("CI") == "" {
		skipped.Lock()
		skipped.byReason[err.Error()]++
		skipped.Unlock()
		tb.Skipf("SKIPPED, NOT RUN: %v (CI is unset, so skipping; the test binary fails unless %s=1)", err, OptionalEnv)
	}
	tb.Fatalf("%v", err)
}

// reportSkips writes a banner about the tests Require skipped, if any, to
// w, and returns the test binary's exit code: code, or 1 when tests were
// skipped and optional is false.
func reportSkips(code int, w io.Writer, optional bool) int {
	skipped.Lock()
	defer skipped.Unlock()
	total := 0
	for _, n := range skipped.byReason {
		total += n
	}
	if total == 0 {
		return code
	}
	line := strings.Repeat("=", 78)
	fmt.Fprintf(w, "%s\n%d TEST(S) SKIPPED, NOT RUN: an AWS emulator is not installed.\n", line, total)
	for _, reason := range slices.Sorted(maps.Keys(skipped.byReason)) {
		fmt.Fprintf(w, "  %d x %s\n", skipped.byReason[reason], reason)
	}
	fmt.Fprintf(w, "A pass of this package does not cover them. Install the emulators with %s,\n", InstallHint)
	if optional {
		fmt.Fprintf(w, "or keep %s=1 to let this binary pass without them.\n%s\n", OptionalEnv, line)
		return code
	}
	fmt.Fprintf(w, "or set %s=1 to let this binary pass without them. Failing.\n%s\n", OptionalEnv, line)
	if code == 0 {
		code = 1
	}
	return code
}

// Emulator is a running emulator that can be stopped: *Kinesis or *Kumo.
type Emulator interface {
	Stop() error
}

// Shared is one emulator for all the tests of a test binary. It starts on the first Get,
// so a run that selects none of its tests does not start it, and TestMain stops it
// after m.Run. It is safe for parallel tests.
type Shared[E Emulator] struct {
	launch func() (E, error)

	mu       sync.Mutex
	launched bool
	stopped  bool
	emulator E
	err      error
}

// SharedKinesis returns a kinesis-mock with opts, shared by a test binary.
func SharedKinesis(opts KinesisOptions) *Shared[*Kinesis] {
	return &Shared[*Kinesis]{launch: func() (*Kinesis, error) { return LaunchKinesis(opts) }}
}

// SharedKumo returns a kumo shared by a test binary.
func SharedKumo() *Shared[*Kumo] {
	return &Shared[*Kumo]{launch: LaunchKumo}
}

// Get returns the emulator, starting it on the first call. When it cannot start, Get
// ends tb as [Require] does, and so do later calls, without starting it again.
func (s *Shared[E]) Get(tb testing.TB) E {
	tb.Helper()
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		tb.Fatalf("shared emulator used after Stop")
	}
	if !s.launched {
		s.launched = true
		s.emulator, s.err = s.launch()
	}
	emulator, err := s.emulator, s.err
	s.mu.Unlock()
	Require(tb, err)
	return emulator
}

// Stop stops the emulator if Get started it; later calls to Get fail.
func (s *Shared[E]) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if !s.launched || s.err != nil {
		return nil
	}
	return s.emulator.Stop()
}

// UniqueName returns prefix followed by a random suffix, for resources of one test in
// an emulator shared by many: a Kinesis stream, an SNS topic or an SQS queue. Characters
// those names do not allow become '-', and the result is at most 64 characters long.
func UniqueName(prefix string) string {
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		panic(fmt.Sprintf("read random bytes: %v", err))
	}
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '-'
	}, prefix)
	if len(clean) > 55 {
		clean = clean[:55]
	}
	return clean + "-" + hex.EncodeToString(suffix[:])
}

// RunTests runs a test binary's tests, then stops the shared emulators it
// used, and returns the exit code for os.Exit: m.Run's, or 1 when an
// emulator does not stop, or when tests were skipped for want of an
// emulator and EMULATORS_OPTIONAL=1 is not set (a banner on stderr says
// which either way).
func RunTests(m *testing.M, emulators ...Emulator) int {
	code := m.Run()
	for _, e := range emulators {
		if err := e.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop emulator: %v\n", err)
			code = 1
		}
	}
	return reportSkips(code, os.Stderr, os.Getenv(OptionalEnv) == "1")
}

// IsolateSDK points the AWS SDK's default chain at fake credentials and no
// config files or instance metadata, so that code under test which loads
// the default configuration never finds real credentials or reaches AWS.
func IsolateSDK() {
	os.Setenv("AWS_ACCESS_KEY_ID", "test")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Setenv("AWS_CONFIG_FILE", os.DevNull)
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}
