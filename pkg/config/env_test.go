package config

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestLoadEnvironmentOverrides(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   map[string]string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "scalar keys absent from the file",
			file: "minimal.yaml",
			env: map[string]string{
				"KINESIS_AUTOSCALER_DRY_RUN":                     "true",
				"KINESIS_AUTOSCALER_AWS_REGION":                  "ap-southeast-2",
				"KINESIS_AUTOSCALER_POLL_INTERVAL":               "15s",
				"KINESIS_AUTOSCALER_ALERTS_SNS_TOPIC_ARN":        "arn:aws:sns:ap-southeast-2:210987654321:alerts",
				"KINESIS_AUTOSCALER_ALERTS_DEDUP_WINDOW":         "10m",
				"KINESIS_AUTOSCALER_LOG_LEVEL":                   "debug",
				"KINESIS_AUTOSCALER_AWS_ENDPOINTS_KINESIS":       "http://localhost:4566",
				"KINESIS_AUTOSCALER_DEFAULTS_MAX_SHARDS":         "64",
				"KINESIS_AUTOSCALER_DEFAULTS_SCALE_UP_AFTER":     "3m",
				"KINESIS_AUTOSCALER_DEFAULTS_MIN_SHARDS":         "2",
				"KINESIS_AUTOSCALER_DEFAULTS_COOLDOWN_UP":        "0",
				"KINESIS_AUTOSCALER_DEFAULTS_SCALE_UP_THRESHOLD": "0.8",
			},
			check: func(t *testing.T, c *Config) {
				settings := builtIn
				settings.MinShards, settings.MaxShards, settings.ScaleUpAfter = 2, 64, 3*time.Minute
				settings.CooldownUp, settings.ScaleUpThreshold = 0, 0.8
				want := Config{
					AWS:          AWS{Region: "ap-southeast-2", Endpoints: Endpoints{Kinesis: "http://localhost:4566"}},
					PollInterval: 15 * time.Second,
					DryRun:       true,
					Log:          Log{Format: "json", Level: "debug"},
					Alerts: Alerts{
						SNSTopicARN: "arn:aws:sns:ap-southeast-2:210987654321:alerts",
						DedupWindow: 10 * time.Minute,
					},
					Metrics: builtInMetrics, Lease: builtInLease, Discover: builtInDiscover,
					Defaults: settings,
					Streams:  []Stream{{Name: "orders", Settings: settings}},
					File:     c.File,
				}
				if !reflect.DeepEqual(*c, want) {
					t.Errorf("got  %+v\nwant %+v", *c, want)
				}
			},
		},
		{
			name: "environment beats the file; stream entries beat the environment",
			file: "overrides.yaml",
			env: map[string]string{
				"KINESIS_AUTOSCALER_DEFAULTS_MAX_SHARDS":       "48",
				"KINESIS_AUTOSCALER_DEFAULTS_SCALE_DOWN_AFTER": "6h",
			},
			check: func(t *testing.T, c *Config) {
				got := []int{c.Defaults.MaxShards, c.Streams[0].Settings.MaxShards,
					c.Streams[1].Settings.MaxShards, c.Streams[2].Settings.MaxShards}
				if want := []int{48, 48, 8, 48}; !reflect.DeepEqual(got, want) {
					t.Errorf("max_shards of defaults and streams = %v, want %v", got, want)
				}
				gotAfter := []time.Duration{c.Defaults.ScaleDownAfter, c.Streams[1].Settings.ScaleDownAfter,
					c.Streams[2].Settings.ScaleDownAfter}
				if want := []time.Duration{6 * time.Hour, 6 * time.Hour, 2 * time.Hour}; !reflect.DeepEqual(gotAfter, want) {
					t.Errorf("scale_down_after of defaults and streams = %v, want %v", gotAfter, want)
				}
			},
		},
		{
			// It was refused as a file with no settings.
			name: "a file of only comments with the settings in the environment",
			file: "../env-only/comments-only.yaml",
			env: map[string]string{
				"KINESIS_AUTOSCALER_AWS_REGION":          "eu-west-1",
				"KINESIS_AUTOSCALER_DISCOVER_TAGS":       "autoscale=enabled",
				"KINESIS_AUTOSCALER_DEFAULTS_MAX_SHARDS": "32",
			},
			check: func(t *testing.T, c *Config) {
				if c.AWS.Region != "eu-west-1" || c.Discover.Tags != "autoscale=enabled" || c.Defaults.MaxShards != 32 || len(c.Streams) != 0 {
					t.Errorf("got %+v", *c)
				}
			},
		},
		{
			name: "an empty variable is ignored",
			file: "full.yaml",
			env:  map[string]string{"KINESIS_AUTOSCALER_AWS_REGION": ""},
			check: func(t *testing.T, c *Config) {
				if c.AWS.Region != "us-east-1" {
					t.Errorf("region = %q, want the file's us-east-1", c.AWS.Region)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := Load(filepath.Join(goodDir, tt.file))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadEnvironmentProblems(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []Problem
	}{
		{
			name: "malformed values name the variable",
			env: map[string]string{
				"KINESIS_AUTOSCALER_POLL_INTERVAL":       "soon",
				"KINESIS_AUTOSCALER_DRY_RUN":             "maybe",
				"KINESIS_AUTOSCALER_DEFAULTS_MAX_SHARDS": "ten",
			},
			want: []Problem{
				{Key: "poll_interval", Reason: `"soon" is not a duration (use e.g. 60s, 5m) (from environment variable KINESIS_AUTOSCALER_POLL_INTERVAL)`},
				{Key: "dry_run", Reason: `"maybe" is not true or false (from environment variable KINESIS_AUTOSCALER_DRY_RUN)`},
				{Key: "defaults.max_shards", Reason: `"ten" is not a whole number (from environment variable KINESIS_AUTOSCALER_DEFAULTS_MAX_SHARDS)`},
			},
		},
		{
			name: "out of range values name the variable",
			env: map[string]string{
				"KINESIS_AUTOSCALER_ALERTS_SNS_TOPIC_ARN": "alerts",
				"KINESIS_AUTOSCALER_DEFAULTS_MIN_SHARDS":  "20",
			},
			want: []Problem{
				{Key: "alerts.sns_topic_arn", Reason: `"alerts" is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME, ACCOUNT being 12 digits) (from environment variable KINESIS_AUTOSCALER_ALERTS_SNS_TOPIC_ARN)`},
				{Key: "defaults.min_shards", Reason: `20 is greater than max_shards 16 (from environment variable KINESIS_AUTOSCALER_DEFAULTS_MIN_SHARDS)`},
			},
		},
		{
			// KINESIS_AUTOSCALER_DRYRUN=true was ignored and the daemon
			// acted for real.
			name: "unknown variables are named, with the one meant",
			env: map[string]string{
				"KINESIS_AUTOSCALER_DRYRUN":             "true",
				"KINESIS_AUTOSCALER_DEFAULTS_MAXSHARDS": "8",
				"KINESIS_AUTOSCALER_COLOUR":             "blue",
				"kinesis_autoscaler_dry_run":            "true",
			},
			want: []Problem{
				{Key: "environment variable KINESIS_AUTOSCALER_COLOUR", Reason: "is not a setting of kinesis-autoscaler"},
				{Key: "environment variable KINESIS_AUTOSCALER_DEFAULTS_MAXSHARDS",
					Reason: "is not a setting of kinesis-autoscaler (did you mean KINESIS_AUTOSCALER_DEFAULTS_MAX_SHARDS?)"},
				{Key: "environment variable KINESIS_AUTOSCALER_DRYRUN",
					Reason: "is not a setting of kinesis-autoscaler (did you mean KINESIS_AUTOSCALER_DRY_RUN?)"},
				{Key: "environment variable kinesis_autoscaler_dry_run",
					Reason: "is not a setting of kinesis-autoscaler (did you mean KINESIS_AUTOSCALER_DRY_RUN?)"},
			},
		},
		{
			name: "a leading zero is refused in the environment as in the file",
			env:  map[string]string{"KINESIS_AUTOSCALER_DEFAULTS_MAX_SHARDS": "010"},
			want: []Problem{{Key: "defaults.max_shards", Reason: "\"010\" has a leading zero, which YAML reads as octal: " +
				"write the number without it (from environment variable KINESIS_AUTOSCALER_DEFAULTS_MAX_SHARDS)"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := filepath.Join(goodDir, "minimal.yaml")
			_, err := Load(path)
			if got := problemsOf(t, err, path); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
