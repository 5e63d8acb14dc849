package emulator

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// KinesisLocalVersion is the version of the npm package kinesis-local (kinesis-mock)
// that .ci/install-emulators installs.
const KinesisLocalVersion = "0.6.2"

// loopbackPreload is loaded with node -r before kinesis-mock: kinesis-mock binds
// 0.0.0.0 and has no option to change it, so every server is made to listen on
// 127.0.0.1 instead.
//
//go:embed loopback_preload.js
var loopbackPreload string

// KinesisOptions configures kinesis-mock. A zero field keeps kinesis-mock's default.
type KinesisOptions struct {
	// CreateStreamDuration is how long a new stream stays CREATING
	// (CREATE_STREAM_DURATION, default 500ms).
	CreateStreamDuration time.Duration
	// UpdateShardCountDuration is how long UpdateShardCount keeps a stream UPDATING
	// (UPDATE_SHARD_COUNT_DURATION, default 500ms).
	UpdateShardCountDuration time.Duration
	// SplitShardDuration is how long SplitShard keeps a stream UPDATING
	// (SPLIT_SHARD_DURATION, default 500ms).
	SplitShardDuration time.Duration
	// MergeShardsDuration is how long MergeShards keeps a stream UPDATING
	// (MERGE_SHARDS_DURATION, default 500ms).
	MergeShardsDuration time.Duration
	// UpdateStreamModeDuration is how long UpdateStreamMode keeps a stream UPDATING
	// (UPDATE_STREAM_MODE_DURATION, default 500ms).
	UpdateStreamModeDuration time.Duration
	// ShardLimit is the account's shard limit (SHARD_LIMIT, default 50).
	ShardLimit int
}

// env returns the kinesis-mock environment variables for the options that are set.
func (o KinesisOptions) env() (map[string]string, error) {
	env := map[string]string{}
	durations := []struct {
		key   string
		value time.Duration
	}{
		{key: "CREATE_STREAM_DURATION", value: o.CreateStreamDuration},
		{key: "UPDATE_SHARD_COUNT_DURATION", value: o.UpdateShardCountDuration},
		{key: "SPLIT_SHARD_DURATION", value: o.SplitShardDuration},
		{key: "MERGE_SHARDS_DURATION", value: o.MergeShardsDuration},
		{key: "UPDATE_STREAM_MODE_DURATION", value: o.UpdateStreamModeDuration},
	}
	for _, d := range durations {
		switch {
		case d.value < 0:
			return nil, fmt.Errorf("kinesis-mock %s is negative: %s", d.key, d.value)
		case d.value > 0:
			// kinesis-mock reads Scala durations such as "1500ms"; round up to a millisecond.
			env[d.key] = strconv.FormatInt(int64((d.value+time.Millisecond-1)/time.Millisecond), 10) + "ms"
		}
	}
	switch {
	case o.ShardLimit < 0:
		return nil, fmt.Errorf("kinesis-mock SHARD_LIMIT is negative: %d", o.ShardLimit)
	case o.ShardLimit > 0:
		env["SHARD_LIMIT"] = strconv.Itoa(o.ShardLimit)
	}
	return env, nil
}

// Kinesis is a running kinesis-mock.
type Kinesis struct {
	// Endpoint is the plain-HTTP endpoint URL, "http://127.0.0.1:PORT".
	Endpoint string

	proc *process
}

// kinesisMockFiles returns the paths of kinesis-mock's main.js and server.json in Dir.
func kinesisMockFiles() (mainJS, certPath string) {
	pkg := filepath.Join(Dir(), "node_modules", "kinesis-local")
	return filepath.Join(pkg, "main.js"), filepath.Join(pkg, "server.json")
}

// LaunchKinesis starts kinesis-mock on 127.0.0.1 and returns once it answers. The caller
// stops it with Stop; TestMain is the place for this, tests use [StartKinesis] or
// [SharedKinesis]. The error wraps ErrNotInstalled when node or kinesis-mock is missing.
func LaunchKinesis(opts KinesisOptions) (*Kinesis, error) {
	optionEnv, err := opts.env()
	if err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("%w: kinesis-mock needs node on PATH: %v", ErrNotInstalled, err)
	}
	mainJS, certPath := kinesisMockFiles()
	if err := requireFiles("kinesis-mock", mainJS, certPath); err != nil {
		return nil, err
	}

	prepare := func(workDir string) error {
		if err := os.WriteFile(filepath.Join(workDir, "loopback.js"), []byte(loopbackPreload), 0o644); err != nil {
			return fmt.Errorf("write kinesis-mock preload: %w", err)
		}
		return nil
	}
	command := func(workDir string, ports []int) *exec.Cmd {
		set := map[string]string{
			"KINESIS_MOCK_PLAIN_PORT": strconv.Itoa(ports[0]),
			"KINESIS_MOCK_TLS_PORT":   strconv.Itoa(ports[1]),
			"KINESIS_MOCK_CERT_PATH":  certPath,
			"AWS_REGION":              Region,
			"SHOULD_PERSIST_DATA":     "false",
			"LOAD_DATA_IF_EXISTS":     "false",
		}
		for key, value := range optionEnv {
			set[key] = value
		}
		cmd := exec.Command(node, "-r", filepath.Join(workDir, "loopback.js"), mainJS)
		cmd.Env = childEnv(isKinesisMockSetting, set)
		return cmd
	}
	ready := func(ports []int) string { return endpoint(ports[0]) + "/healthcheck" }

	proc, ports, err := launch("kinesis-mock", 2, command, ready, prepare)
	if err != nil {
		return nil, err
	}
	return &Kinesis{Endpoint: endpoint(ports[0]), proc: proc}, nil
}

// isKinesisMockSetting reports whether an inherited environment variable would change
// how kinesis-mock behaves, so that only LaunchKinesis decides those.
func isKinesisMockSetting(key string) bool {
	switch key {
	case "SHARD_LIMIT", "ON_DEMAND_STREAM_COUNT_LIMIT", "INITIALIZE_STREAMS", "AWS_ACCOUNT_ID",
		"LOG_LEVEL", "ROOT_LOG_LEVEL":
		return true
	}
	return strings.HasPrefix(key, "KINESIS_MOCK_") || strings.HasPrefix(key, "PERSIST_") ||
		strings.HasSuffix(key, "_DURATION")
}

// StartKinesis starts kinesis-mock for one test and stops it when the test ends. It
// skips the test when kinesis-mock is not installed, or fails it when $CI is set.
func StartKinesis(tb testing.TB, opts KinesisOptions) *Kinesis {
	tb.Helper()
	k, err := LaunchKinesis(opts)
	Require(tb, err)
	tb.Cleanup(func() {
		if err := k.Stop(); err != nil {
			tb.Errorf("stop kinesis-mock: %v", err)
		}
	})
	return k
}

// Stop stops kinesis-mock: SIGTERM, then SIGKILL if it has not exited within a few
// seconds. It is safe to call more than once.
func (k *Kinesis) Stop() error {
	return k.proc.stop()
}

// Output returns the tail of kinesis-mock's standard output and error, while it runs: Stop
// removes them.
func (k *Kinesis) Output() string {
	return k.proc.outputTail()
}

// Client returns a Kinesis client for this kinesis-mock, with static credentials and
// region us-east-1; optFns apply after those, for example to change the retryer.
func (k *Kinesis) Client(optFns ...func(*kinesis.Options)) *kinesis.Client {
	endpoint := func(o *kinesis.Options) { o.BaseEndpoint = aws.String(k.Endpoint) }
	return kinesis.NewFromConfig(AWSConfig(), append([]func(*kinesis.Options){endpoint}, optFns...)...)
}
