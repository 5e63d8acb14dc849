package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// noStreams is the problem of a file with neither streams nor discovery.
const noStreams = "at least one stream is required, unless discover.tags or discover.name_prefix is set"

const (
	goodDir = "../../testdata/config/good"
	badDir  = "../../testdata/config/bad"
	example = "../../config/example.yaml"
)

// builtIn are the built-in defaults, written out rather than taken from the
// key table, so that a changed default fails a test.
var builtIn = StreamSettings{
	MinShards:          1,
	MaxShards:          16,
	ScaleUpThreshold:   0.75,
	ScaleDownThreshold: 0.25,
	ScaleUpAfter:       2 * time.Minute,
	ScaleDownAfter:     30 * time.Minute,
	CooldownUp:         5 * time.Minute,
	CooldownDown:       time.Hour,
	MaxIteratorAge:     5 * time.Minute,

	MaxShardChangesPerDay: 48,
	Headroom:              "balanced",
}

// The built-in defaults of the daemon-wide blocks, written out too.
var (
	builtInMetrics  = Metrics{Listen: "127.0.0.1:9090"}
	builtInLease    = Lease{Name: "kinesis-autoscaler", Duration: 20 * time.Second}
	builtInDiscover = Discover{Interval: 5 * time.Minute}
)

func TestLoadGood(t *testing.T) {
	tests := []struct {
		name string
		file string
		want Config
	}{
		{
			name: "minimal file takes every default",
			file: "minimal.yaml",
			want: Config{
				PollInterval: time.Minute,
				Log:          Log{Format: "json", Level: "info"},
				Alerts:       Alerts{DedupWindow: time.Hour},
				Metrics:      builtInMetrics, Lease: builtInLease, Discover: builtInDiscover,
				Defaults: builtIn,
				Streams:  []Stream{{Name: "orders", Settings: builtIn}},
			},
		},
		{
			name: "full file sets every key",
			file: "full.yaml",
			want: func() Config {
				defaults := StreamSettings{
					MinShards:          2,
					MaxShards:          100000,
					ScaleUpThreshold:   0.95,
					ScaleDownThreshold: 0.05,
					ScaleUpAfter:       time.Minute,
					ScaleDownAfter:     24 * time.Hour,
					CooldownUp:         0,
					CooldownDown:       0,
					MaxIteratorAge:     90 * time.Minute,

					ShardLevel:            true,
					MaxShardChangesPerDay: 12,
					Headroom:              "lossless",
				}
				events := defaults
				events.CooldownUp = 24 * time.Hour
				events.ShardLevel = false
				return Config{
					AWS: AWS{
						Region: "us-east-1",
						Endpoints: Endpoints{
							Kinesis:    "https://kinesis.us-east-1.amazonaws.com",
							CloudWatch: "https://monitoring.us-east-1.amazonaws.com",
							SNS:        "https://sns.us-east-1.amazonaws.com",
						},
					},
					PollInterval: 30 * time.Second,
					DryRun:       true,
					Log:          Log{Format: "console", Level: "debug"},
					Alerts: Alerts{
						SNSTopicARN: "arn:aws-us-gov:sns:us-gov-west-1:123456789012:scaling_alerts",
						DedupWindow: 168 * time.Hour,
					},
					Metrics: builtInMetrics, Lease: builtInLease, Discover: builtInDiscover,
					Defaults: defaults,
					Streams: []Stream{
						{Name: "events.v1", Settings: events},
						{Name: "audit_log-2", Settings: defaults},
					},
				}
			}(),
		},
		{
			name: "stream entries override the keys they set and keep the rest",
			file: "overrides.yaml",
			want: func() Config {
				defaults := builtIn
				defaults.MaxShards = 32
				defaults.ScaleDownAfter = 45 * time.Minute
				orders := defaults
				orders.MaxShards = 8
				payments := StreamSettings{
					MinShards:          3,
					MaxShards:          32,
					ScaleUpThreshold:   0.6,
					ScaleDownThreshold: 0.2,
					ScaleUpAfter:       5 * time.Minute,
					ScaleDownAfter:     2 * time.Hour,
					CooldownUp:         10 * time.Minute,
					CooldownDown:       3 * time.Hour,
					MaxIteratorAge:     30 * time.Second,

					MaxShardChangesPerDay: 48,
					Headroom:              "balanced",
				}
				return Config{
					PollInterval: time.Minute,
					Log:          Log{Format: "json", Level: "info"},
					Alerts:       Alerts{DedupWindow: time.Hour},
					Metrics:      builtInMetrics, Lease: builtInLease, Discover: builtInDiscover,
					Defaults: defaults,
					Streams: []Stream{
						{Name: "clicks", Settings: defaults},
						{Name: "orders", Settings: orders},
						{Name: "payments", Settings: payments},
					},
				}
			}(),
		},
		{
			name: "endpoints for an emulator",
			file: "endpoints.yaml",
			want: Config{
				AWS: AWS{
					Region: "us-east-1",
					Endpoints: Endpoints{
						Kinesis:    "http://localhost:4566",
						CloudWatch: "http://localstack:4566/",
						SNS:        "http://127.0.0.1:4566",
					},
				},
				PollInterval: time.Minute,
				Log:          Log{Format: "json", Level: "info"},
				Alerts:       Alerts{DedupWindow: time.Hour},
				Metrics:      builtInMetrics, Lease: builtInLease, Discover: builtInDiscover,
				Defaults: builtIn,
				Streams:  []Stream{{Name: "local-stream", Settings: builtIn}},
			},
		},
		{
			name: "discovery and a lease, no streams list",
			file: "discovery.yaml",
			want: Config{
				AWS:          AWS{Region: "eu-west-1", Endpoints: Endpoints{DynamoDB: "http://localhost:8000"}},
				PollInterval: time.Minute,
				Log:          Log{Format: "json", Level: "info"},
				Alerts:       Alerts{DedupWindow: time.Hour},
				Metrics:      Metrics{Listen: "0.0.0.0:9090"},
				Lease:        Lease{Table: "kinesis-autoscaler-lease", Name: "prod/eu-west-1", Duration: 30 * time.Second},
				Discover:     Discover{Tags: "autoscale=enabled, team=data", NamePrefix: "prod-", Interval: 10 * time.Minute},
				Defaults:     builtIn,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(goodDir, tt.file)
			got, err := Load(path)
			if err != nil {
				t.Fatalf("Load(%s): %v", path, err)
			}
			tt.want.File = path
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Load(%s)\n got %+v\nwant %+v", path, *got, tt.want)
			}
		})
	}
}

func TestLoadExample(t *testing.T) {
	got, err := Load(example)
	if err != nil {
		t.Fatalf("Load(%s): %v", example, err)
	}
	if len(got.Streams) != 2 {
		t.Fatalf("streams = %d, want 2", len(got.Streams))
	}
	if got.Streams[0].Settings != got.Defaults {
		t.Errorf("streams[0] settings = %+v, want the defaults %+v", got.Streams[0].Settings, got.Defaults)
	}
	orders := got.Defaults
	orders.MinShards, orders.MaxShards, orders.ScaleUpThreshold = 4, 64, 0.6
	orders.ScaleDownAfter, orders.MaxIteratorAge = time.Hour, 2*time.Minute
	if got.Streams[1].Settings != orders {
		t.Errorf("streams[1] settings = %+v, want %+v", got.Streams[1].Settings, orders)
	}
}

// TestExampleHasEveryKey checks that config/example.yaml shows every key,
// set or in a comment.
func TestExampleHasEveryKey(t *testing.T) {
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range Reference() {
		leaf := doc.Key[strings.LastIndexAny(doc.Key, ".]")+1:]
		if !strings.Contains(string(data), leaf+":") {
			t.Errorf("%s does not show key %s", example, doc.Key)
		}
	}
}

// TestLoadBad loads every file in testdata/config/bad. Each starts with one
// "# want: FRAGMENT" line per problem it must report, in order; it must
// report exactly those.
func TestLoadBad(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(badDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad fixtures in %s: %v", badDir, err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			wants := wantedProblems(t, path)
			_, err := Load(path)
			problems := problemsOf(t, err, path)
			if len(problems) != len(wants) {
				t.Fatalf("Load(%s) reported %d problems, want %d:\n%v", path, len(problems), len(wants), err)
			}
			for i, want := range wants {
				if got := problems[i].Error(); !strings.HasPrefix(got, want) {
					t.Errorf("problem %d = %q, want it to start with %q", i, got, want)
				}
			}
		})
	}
}

// wantedProblems reads the "# want:" lines of a bad fixture.
func wantedProblems(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wants []string
	for line := range strings.Lines(string(data)) {
		if want, ok := strings.CutPrefix(line, "# want: "); ok {
			wants = append(wants, strings.TrimSpace(want))
		}
	}
	if len(wants) == 0 {
		t.Fatalf("%s has no # want: line", path)
	}
	return wants
}

// problemsOf checks that err is an *Error about file and returns its problems.
func problemsOf(t *testing.T, err error, file string) []Problem {
	t.Helper()
	var cfgErr *Error
	if !errors.As(err, &cfgErr) {
		t.Fatalf("error = %v (%T), want an *Error", err, err)
	}
	if cfgErr.File != file {
		t.Errorf("Error.File = %q, want %q", cfgErr.File, file)
	}
	for _, line := range strings.Split(cfgErr.Error(), "\n") {
		if !strings.HasPrefix(line, file+": ") {
			t.Errorf("error line %q does not start with %q", line, file+": ")
		}
	}
	return cfgErr.Problems
}

func TestLoadFileProblems(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		skip    bool
		problem string
	}{
		{
			name:    "missing file",
			path:    filepath.Join(dir, "missing.yaml"),
			problem: "cannot read the file: no such file or directory",
		},
		{
			name:    "directory",
			path:    dir,
			problem: "cannot read the file: is a directory",
		},
		{
			name: "unreadable file",
			path: func() string {
				path := filepath.Join(dir, "secret.yaml")
				if err := os.WriteFile(path, []byte("streams: [{name: a}]\n"), 0o000); err != nil {
					t.Fatal(err)
				}
				return path
			}(),
			skip:    os.Geteuid() == 0, // root reads it anyway
			problem: "cannot read the file: permission denied",
		},
	}
	tooLarge := filepath.Join(dir, "huge.yaml")
	if err := os.WriteFile(tooLarge, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(tooLarge, MaxFileBytes+1); err != nil { // sparse: no 16 MiB written
		t.Fatal(err)
	}
	tests = append(tests, struct {
		name    string
		path    string
		skip    bool
		problem string
	}{name: "larger than the limit", path: tooLarge, problem: "the file is larger than 16 MiB, more than any configuration needs"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip {
				t.Skip("file permissions do not apply")
			}
			cfg, err := Load(tt.path)
			if cfg != nil {
				t.Errorf("Load returned a config with an error")
			}
			problems := problemsOf(t, err, tt.path)
			want := []Problem{{Reason: tt.problem}}
			if !reflect.DeepEqual(problems, want) {
				t.Errorf("problems = %+v, want %+v", problems, want)
			}
		})
	}
}

// TestLoadOddShapes feeds values of unexpected shapes and sizes: each must
// give its problem (or be accepted), never a panic.
func TestLoadOddShapes(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []Problem // nil: loads fine
	}{
		{
			name: "streams is a number",
			yaml: "streams: 5\n",
			want: []Problem{{Key: "streams", Reason: "must be a list of streams, not 5"}},
		},
		{
			name: "streams is null",
			yaml: "streams:\n",
			want: []Problem{{Key: "streams", Reason: noStreams}},
		},
		{
			name: "streams is an empty list",
			yaml: "streams: []\n",
			want: []Problem{{Key: "streams", Reason: noStreams}},
		},
		{
			name: "defaults is a list",
			yaml: "defaults: [1, 2]\nstreams: [{name: a}]\n",
			want: []Problem{{Key: "defaults", Reason: "must be a mapping of keys, not a list"}},
		},
		{
			name: "stream entry is a string",
			yaml: "streams: [ \"a\" ]\n",
			want: []Problem{{Key: "streams[0]", Reason: `must be a mapping with at least a name, not "a" (write - name: "a")`}},
		},
		{
			name: "stream entry is empty",
			yaml: "streams: [ {} ]\n",
			want: []Problem{{Key: "streams[0].name", Reason: "is missing or empty; every stream needs the name of its Kinesis stream"}},
		},
		{
			name: "null values keep the defaults",
			yaml: "poll_interval:\naws:\nlog: {level: null}\ndefaults:\n  max_shards: ~\nstreams:\n  - name: a\n    min_shards: null\n",
		},
		{
			name: "name is a mapping",
			yaml: "streams: [{name: {a: 1}}]\n",
			want: []Problem{{Key: "streams[0].name", Reason: "a mapping is not a string"}},
		},
		{
			name: "huge and negative numbers",
			yaml: "defaults: {max_shards: 123456789012345678901234567890, min_shards: -3}\nstreams: [{name: a, max_shards: 18446744073709551615}]\n",
			want: []Problem{
				{Key: "defaults.min_shards", Reason: "-3 is below the minimum 1"},
				{Key: "defaults.max_shards", Reason: "123456789012345678901234567890 is out of range"},
				{Key: "streams[0].max_shards", Reason: "18446744073709551615 is out of range"},
			},
		},
		{
			name: "huge and negative durations",
			yaml: "poll_interval: 9999999999h\nalerts: {dedup_window: -1h}\nstreams: [{name: a}]\n",
			want: []Problem{
				{Key: "poll_interval", Reason: `"9999999999h" is not a duration (use e.g. 60s, 5m)`},
				{Key: "alerts.dedup_window", Reason: "-1h is below the minimum 1m"},
			},
		},
		{
			name: "infinite threshold",
			yaml: "streams: [{name: a, scale_up_threshold: .inf}]\n",
			want: []Problem{{Key: "streams[0].scale_up_threshold", Reason: ".inf is not a number"}},
		},
		{
			name: "odd keys",
			yaml: "'': 1\n7: 2\n'a b': 3\nstreams: [{name: a, \"x\\ty\": 1}]\n",
			want: []Problem{
				{Key: `""`, Reason: "unknown key"},
				{Key: "7", Reason: "unknown key"},
				{Key: `"a b"`, Reason: "unknown key"},
				{Key: `streams[0]."x\ty"`, Reason: "unknown key"},
			},
		},
		{
			name: "unknown nested mapping is reported once",
			yaml: "extra: {a: {b: 1}, c: 2}\nstreams: [{name: a}]\n",
			want: []Problem{{Key: "extra", Reason: "unknown key"}},
		},
		{
			name: "quoted numbers and booleans",
			yaml: "dry_run: 'true'\ndefaults: {max_shards: '20', scale_up_threshold: '0.8'}\nstreams: [{name: a}]\n",
		},
		{
			// YAML 1.1's merge keys, anchors and aliases copy values a
			// reader of the file does not see where they land.
			name: "anchors, aliases and merge keys are refused",
			yaml: "defaults: &d {max_shards: 20}\nstreams: [{name: a, <<: *d}, {name: b, max_shards: *d}]\n",
			want: []Problem{
				{Key: "defaults", Reason: "anchors (&d, line 1) are not supported: write the values out"},
				{Key: `streams[0]."<<"`, Reason: "merge keys (<<, line 2) are not supported: write the keys out"},
				{Key: "streams[1].max_shards", Reason: "aliases (*d, line 2) are not supported: write the values out"},
			},
		},
		{
			// YAML 1.1 reads 010 as octal 8; the environment read it as 10.
			name: "a number with a leading zero is refused, as in the environment",
			yaml: "defaults: {max_shards: 010}\nstreams: [{name: a, min_shards: 02}]\n",
			want: []Problem{
				{Key: "defaults.max_shards", Reason: "010 has a leading zero, which YAML reads as octal: write the number without it"},
				{Key: "streams[0].min_shards", Reason: "02 has a leading zero, which YAML reads as octal: write the number without it"},
			},
		},
		{
			name: "YAML 1.1 number forms are not numbers, as in the environment",
			yaml: "defaults: {max_shards: 1_000, min_shards: 0x2, scale_up_threshold: 0.8_0}\nstreams: [{name: a}]\n",
			want: []Problem{
				{Key: "defaults.min_shards", Reason: "0x2 is not a whole number"},
				{Key: "defaults.max_shards", Reason: "1_000 is not a whole number"},
				{Key: "defaults.scale_up_threshold", Reason: "0.8_0 is not a number"},
			},
		},
		{
			name: "a number is not a stream name",
			yaml: "streams: [{name: 010}]\n",
			want: []Problem{{Key: "streams[0].name", Reason: "010 is not a string (put it in quotes)"}},
		},
		{
			// viper lower-cases keys, so the later one silently won.
			name: "keys that differ only in case are named together",
			yaml: "defaults:\n  max_shards: 8\n  MAX_SHARDS: 64\nstreams:\n  - name: a\n    Min_Shards: 2\n    min_shards: 3\n",
			want: []Problem{
				{Key: "defaults.MAX_SHARDS", Reason: "max_shards (line 2) and MAX_SHARDS (line 3) differ only in case: keep one"},
				{Key: "streams[0].min_shards", Reason: "Min_Shards (line 6) and min_shards (line 7) differ only in case: keep one"},
			},
		},
		{
			// The second document used to be ignored silently.
			name: "a second YAML document",
			yaml: "streams: [{name: a}]\n---\ndry_run: true\n",
			want: []Problem{{Reason: "the file holds more than one YAML document (the second's content starts at line 3); put every key in one"}},
		},
		{
			name: "an empty document after the settings",
			yaml: "streams: [{name: a}]\n---\n",
		},
		{
			name: "a key given twice",
			yaml: "poll_interval: 1m\npoll_interval: 2m\nstreams: [{name: a}]\n",
			want: []Problem{{Key: "poll_interval", Reason: "is given twice (lines 1 and 2)"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if cfg.Streams[0].Settings.MinShards != 1 || cfg.PollInterval != time.Minute || cfg.Log.Level != "info" {
					t.Errorf("defaults not kept: %+v", cfg)
				}
				return
			}
			if got := problemsOf(t, err, path); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
