package config

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// validConfig returns a valid Config built in code, as the simulator would.
func validConfig() Config {
	return Config{
		PollInterval: time.Minute,
		Log:          Log{Format: "json", Level: "info"},
		Alerts:       Alerts{DedupWindow: time.Hour},
		Defaults:     DefaultStreamSettings(),
		Streams: []Stream{
			{Name: "orders", Settings: DefaultStreamSettings()},
			{Name: "clicks", Settings: DefaultStreamSettings()},
		},
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		want   []Problem
	}{
		{
			name:   "valid",
			change: func(c *Config) {},
		},
		{
			name: "bad default reported once, not again for each stream inheriting it",
			change: func(c *Config) {
				c.Defaults.ScaleUpThreshold = 0.99
				for i := range c.Streams {
					c.Streams[i].Settings.ScaleUpThreshold = 0.99
				}
			},
			want: []Problem{{Key: "defaults.scale_up_threshold", Reason: "0.99 is above the maximum 0.95"}},
		},
		{
			name: "headroom is one of its settings",
			change: func(c *Config) {
				c.Streams[0].Settings.Headroom = "generous"
			},
			want: []Problem{{Key: "streams[0].headroom", Reason: `"generous" is not one of lossless, balanced, economy`}},
		},
		{
			name: "stream's own value checked",
			change: func(c *Config) {
				c.Streams[1].Settings.MinShards = 8
				c.Streams[1].Settings.MaxShards = 4
				c.Streams[0].Settings.ScaleDownAfter = time.Minute
			},
			want: []Problem{
				{Key: "streams[0].scale_down_after", Reason: "1m is below the minimum 5m"},
				{Key: "streams[1].min_shards", Reason: "8 is greater than max_shards 4"},
			},
		},
		{
			name: "stream lowering max_shards below the default min_shards",
			change: func(c *Config) {
				c.Defaults.MinShards = 4
				c.Streams[0].Settings.MinShards = 4
				c.Streams[1].Settings.MinShards = 4
				c.Streams[1].Settings.MaxShards = 2
			},
			want: []Problem{{Key: "streams[1].max_shards", Reason: "2 is less than min_shards 4"}},
		},
		{
			name: "names",
			change: func(c *Config) {
				c.Streams = append(c.Streams,
					Stream{Name: "orders", Settings: c.Defaults},
					Stream{Name: "", Settings: c.Defaults},
					Stream{Name: "bad/name", Settings: c.Defaults},
					Stream{Name: "clicks", Settings: c.Defaults},
				)
			},
			want: []Problem{
				{Key: "streams[2].name", Reason: `"orders" is also the name of streams[0]`},
				{Key: "streams[3].name", Reason: "is missing or empty; every stream needs the name of its Kinesis stream"},
				{Key: "streams[4].name", Reason: `"bad/name" is not a Kinesis stream name (1 to 128 characters of a-z, A-Z, 0-9, _ . -)`},
				{Key: "streams[5].name", Reason: `"clicks" is also the name of streams[1]`},
			},
		},
		{
			name:   "no streams",
			change: func(c *Config) { c.Streams = nil },
			want:   []Problem{{Key: "streams", Reason: noStreams}},
		},
		{
			name: "zero Config",
			change: func(c *Config) {
				*c = Config{}
			},
			want: []Problem{
				{Key: "poll_interval", Reason: "0s is below the minimum 10s"},
				{Key: "log.format", Reason: `"" is not one of json, console`},
				{Key: "log.level", Reason: `"" is not one of debug, info, warn, error`},
				{Key: "alerts.dedup_window", Reason: "0s is below the minimum 1m"},
				{Key: "defaults.min_shards", Reason: "0 is below the minimum 1"},
				{Key: "defaults.scale_up_threshold", Reason: "0 is below the minimum 0.5"},
				{Key: "defaults.scale_down_threshold", Reason: "0 is below the minimum 0.05"},
				{Key: "defaults.scale_down_threshold", Reason: "0 is not below scale_up_threshold 0 minus 0.1; it must be less than -0.1"},
				{Key: "defaults.scale_up_after", Reason: "0s is below the minimum 1m"},
				{Key: "defaults.scale_down_after", Reason: "0s is below the minimum 5m"},
				{Key: "defaults.max_iterator_age", Reason: "0s is not positive"},
				{Key: "defaults.headroom", Reason: `"" is not one of lossless, balanced, economy`},
				{Key: "defaults.max_shard_changes_per_day", Reason: "0 is below the minimum 1"},
				{Key: "streams", Reason: noStreams},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var cfgErr *Error
			if !errors.As(err, &cfgErr) {
				t.Fatalf("Validate() = %v, want an *Error", err)
			}
			got := cfgErr.Problems
			sortProblems(got) // Load sorts; Validate reports in check order.
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	err := &Error{
		File: "config.yaml",
		Problems: []Problem{
			{Key: "streams[0].min_shards", Reason: "8 is greater than max_shards 4"},
			{Reason: "not valid YAML: yaml: line 1"},
		},
	}
	want := "config.yaml: streams[0].min_shards: 8 is greater than max_shards 4\nconfig.yaml: not valid YAML: yaml: line 1"
	if got := err.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var p Problem
	if !errors.As(err, &p) || p.Key != "streams[0].min_shards" {
		t.Errorf("errors.As(Problem) = %+v, want the first problem", p)
	}
	noFile := &Error{Problems: []Problem{{Key: "log.level", Reason: "x"}}}
	if got := noFile.Error(); got != "log.level: x" {
		t.Errorf("Error() without file = %q", got)
	}
}
