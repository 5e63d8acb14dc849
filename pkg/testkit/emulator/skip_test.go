package emulator_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// helperEnv makes this test binary, run again by TestMissingEmulatorIsLoud,
// run TestHelperNeedsKinesis for real.
const helperEnv = "EMULATOR_SKIP_HELPER"

// TestHelperNeedsKinesis needs a kinesis-mock that is not installed; it is
// the child of TestMissingEmulatorIsLoud.
func TestHelperNeedsKinesis(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("run by TestMissingEmulatorIsLoud")
	}
	emulator.SharedKinesis(emulator.KinesisOptions{}).Get(t)
	t.Fatal("a kinesis-mock started from an empty EMULATOR_DIR")
}

// TestMissingEmulatorIsLoud runs a test that needs a missing emulator,
// outside CI: the skip used to be silent (go test printed ok); now the
// binary says so on stderr and fails, unless EMULATORS_OPTIONAL=1.
func TestMissingEmulatorIsLoud(t *testing.T) {
	tests := []struct {
		name     string
		optional string
		wantFail bool
	}{
		{name: "fails by default", optional: "", wantFail: true},
		{name: "passes when skipping is meant", optional: "1", wantFail: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNeedsKinesis$")
			cmd.Env = append(os.Environ(), helperEnv+"=1", "EMULATOR_DIR="+t.TempDir(), "CI=",
				emulator.OptionalEnv+"="+tt.optional)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if failed := errors.As(err, &exit); failed != tt.wantFail || (err != nil && !failed) {
				t.Errorf("test binary: %v, want failed=%v; stderr:\n%s", err, tt.wantFail, stderr.String())
			}
			for _, want := range []string{"1 TEST(S) SKIPPED, NOT RUN", "kinesis-mock", emulator.InstallHint} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
		})
	}
}
