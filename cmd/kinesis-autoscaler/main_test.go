package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// runCLI runs the command line in-process and returns its exit status and
// output.
// testHooks are the hooks runCLI runs the commands with; tests set them
// and reset them in a cleanup.
var testHooks hooks

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runWith(args, &stdout, &stderr, testHooks)
	return code, stdout.String(), stderr.String()
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{
			name:       "example config is valid",
			args:       []string{"validate", "--config", "../../config/example.yaml"},
			wantCode:   0,
			wantStdout: []string{"is valid", `name: "clickstream"`, "scale_up_threshold: 0.75", `name: "orders"`, "max_shards: 64"},
		},
		{
			name:       "typo is named with file and key",
			args:       []string{"validate", "--config", "../../testdata/config/bad/unknown-key-defaults.yaml"},
			wantCode:   2,
			wantStderr: []string{"unknown-key-defaults.yaml", "defaults.scale_up_treshold", "did you mean scale_up_threshold"},
		},
		{
			name:       "missing file",
			args:       []string{"validate", "--config", "does-not-exist.yaml"},
			wantCode:   2,
			wantStderr: []string{"does-not-exist.yaml", "cannot read"},
		},
		{
			name:       "unknown flag",
			args:       []string{"validate", "--bogus"},
			wantCode:   2,
			wantStderr: []string{"unknown flag: --bogus"},
		},
		{
			name:       "unknown command",
			args:       []string{"frobnicate"},
			wantCode:   2,
			wantStderr: []string{`unknown command "frobnicate"`},
		},
		{
			name:       "config file as an argument of run",
			args:       []string{"run", "config.yaml"},
			wantCode:   2,
			wantStderr: []string{`got "config.yaml": did you mean --config config.yaml?`},
		},
		{
			name:       "existing file as an argument of validate",
			args:       []string{"validate", "../../config/example.yaml"},
			wantCode:   2,
			wantStderr: []string{"did you mean --config ../../config/example.yaml?"},
		},
		{
			name:       "other argument of status",
			args:       []string{"status", "clickstream"},
			wantCode:   2,
			wantStderr: []string{`kinesis-autoscaler status takes no arguments, got "clickstream"`},
		},
		{
			name:       "config file as an argument of simulate",
			args:       []string{"simulate", "config.yaml"},
			wantCode:   2,
			wantStderr: []string{"did you mean --config config.yaml?"},
		},
		{
			name:       "trace as an argument of simulate",
			args:       []string{"simulate", "traffic.csv"},
			wantCode:   2,
			wantStderr: []string{"give a trace with --trace FILE"},
		},
		{
			name:       "config file as a command",
			args:       []string{"config.yml"},
			wantCode:   2,
			wantStderr: []string{"did you mean 'kinesis-autoscaler run --config config.yml'?"},
		},
		{
			name:       "version",
			args:       []string{"version"},
			wantCode:   0,
			wantStdout: []string{"kinesis-autoscaler dev"},
		},
		{
			name:       "version flag",
			args:       []string{"--version"},
			wantCode:   0,
			wantStdout: []string{"kinesis-autoscaler dev (commit "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestValidateHidesEndpointCredentials: an endpoint URL with credentials in
// it is refused, and neither validate's error nor anything else it prints
// shows them (it printed the URL as given).
func TestValidateHidesEndpointCredentials(t *testing.T) {
	tests := []struct {
		name, yaml string
		env        map[string]string
	}{
		{name: "in the file", yaml: "aws:\n  endpoints:\n    kinesis: http://AKIAEXAMPLEKEY:wJalrXUtnSECRET@localhost:4566\nstreams: [{name: a}]\n"},
		{name: "in a URL that is not http", yaml: "aws:\n  endpoints:\n    sns: ftp://AKIAEXAMPLEKEY:wJalrXUtnSECRET@host/x@y\nstreams: [{name: a}]\n"},
		{name: "in the environment", yaml: "streams: [{name: a}]\n",
			env: map[string]string{"KINESIS_AUTOSCALER_AWS_ENDPOINTS_CLOUDWATCH": "https://AKIAEXAMPLEKEY:wJalrXUtnSECRET@127.0.0.1:4566"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCLI(t, "validate", "--config", path)
			if code != 2 || !strings.Contains(stderr, "aws.endpoints.") || !strings.Contains(stderr, "REDACTED@") {
				t.Errorf("exit %d, want 2 naming the endpoint key; stderr: %s", code, stderr)
			}
			for _, secret := range []string{"AKIAEXAMPLEKEY", "wJalrXUtnSECRET"} {
				if strings.Contains(stdout+stderr, secret) {
					t.Errorf("validate printed %q:\nstdout: %s\nstderr: %s", secret, stdout, stderr)
				}
			}
		})
	}
}

// TestEveryBadConfigExitsTwo runs validate on every bad fixture: each exits 2
// with the file named, never a panic or a stack trace.
func TestEveryBadConfigExitsTwo(t *testing.T) {
	files, err := filepath.Glob("../../testdata/config/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			code, _, stderr := runCLI(t, "validate", "--config", f)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stderr: %s", code, stderr)
			}
			if !strings.Contains(stderr, filepath.Base(f)) {
				t.Errorf("stderr does not name the file: %s", stderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Errorf("stack trace in stderr: %s", stderr)
			}
		})
	}
}

func TestMain(m *testing.M) {
	// The SDK must never find real credentials or reach AWS from tests.
	emulator.IsolateSDK()
	os.Exit(emulator.RunTests(m, kinesisMock, kumo))
}

// TestRunWithoutRegionExitsTwo starts the daemon with no region anywhere:
// it must stop at start-up with status 2, not fail every cycle.
func TestRunWithoutRegionExitsTwo(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("KINESIS_AUTOSCALER_AWS_REGION", "")
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg := "metrics: {listen: \"\"}\n" +
		"aws:\n  endpoints: {kinesis: \"http://127.0.0.1:1\", cloudwatch: \"http://127.0.0.1:1\", sns: \"http://127.0.0.1:1\"}\n" +
		"streams: [{name: orders}]\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "run", "--once", "--config", path)
	if code != 2 || !strings.Contains(stderr, "no AWS region") || !strings.Contains(stderr, path) {
		t.Fatalf("exit %d, want 2 naming the file and the missing region; stderr: %s", code, stderr)
	}
}
