package config

import (
	"maps"
	"reflect"
	"testing"
	"time"
)

func TestTagFilter(t *testing.T) {
	tests := []struct {
		name string
		tags string
		want map[string]string
	}{
		{name: "empty", tags: "", want: map[string]string{}},
		{name: "one", tags: "autoscale=enabled", want: map[string]string{"autoscale": "enabled"}},
		{
			name: "several, spaces trimmed, empty value",
			tags: " autoscale = enabled ,team=data, reviewed=",
			want: map[string]string{"autoscale": "enabled", "team": "data", "reviewed": ""},
		},
		{name: "malformed pairs left out", tags: "autoscale,team=data", want: map[string]string{"team": "data"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Discover{Tags: tt.tags}.TagFilter()
			if !maps.Equal(got, tt.want) {
				t.Errorf("TagFilter(%q) = %v, want %v", tt.tags, got, tt.want)
			}
		})
	}
}

func TestWithTagValues(t *testing.T) {
	base := DefaultStreamSettings() // max_shards 16
	tests := []struct {
		name   string
		values map[string]string
		change func(s *StreamSettings)
		want   []Problem
	}{
		{name: "no tags", values: nil, change: func(*StreamSettings) {}},
		{
			name: "values that narrow the file's apply",
			values: map[string]string{"max_shards": "16", "min_shards": "2", "cooldown_down": "2h", "scale_up_threshold": "0.7",
				"scale_down_threshold": "0.2", "scale_up_after": "1m", "scale_down_after": "1h", "cooldown_up": "1m",
				"max_iterator_age": "1m", "shard_level": "false", "max_shard_changes_per_day": "4"},
			change: func(s *StreamSettings) {
				s.MinShards, s.CooldownDown, s.ScaleUpThreshold, s.ScaleDownThreshold = 2, 2*time.Hour, 0.7, 0.2
				s.ScaleUpAfter, s.ScaleDownAfter, s.CooldownUp, s.MaxIteratorAge = time.Minute, time.Hour, time.Minute, time.Minute
				s.MaxShardChangesPerDay = 4
			},
		},
		{
			name:   "ten thousand shards is not trusted",
			values: map[string]string{"max_shards": "10000"},
			change: func(*StreamSettings) {},
			want: []Problem{{Key: "max_shards", Reason: "10000 is above defaults.max_shards 16, the most a tag may ask for " +
				"(list the stream under streams to give it more)"}},
		},
		{
			name:   "malformed values are left out, the others apply",
			values: map[string]string{"max_shards": "lots", "scale_up_after": "5 minutes", "cooldown_up": "-1m", "min_shards": "3"},
			change: func(s *StreamSettings) { s.MinShards = 3 },
			want: []Problem{
				{Key: "cooldown_up", Reason: "-1m is below the minimum 0s"},
				{Key: "max_shards", Reason: `"lots" is not a whole number`},
				{Key: "scale_up_after", Reason: `"5 minutes" is not a duration (use e.g. 60s, 5m)`},
			},
		},
		{
			name:   "unknown setting",
			values: map[string]string{"max_shard": "8"},
			change: func(*StreamSettings) {},
			want:   []Problem{{Key: "max_shard", Reason: "unknown setting"}},
		},
		{
			name:   "a min_shards above the file's max_shards is left out",
			values: map[string]string{"min_shards": "17"},
			change: func(*StreamSettings) {},
			want: []Problem{{Key: "min_shards", Reason: "17 is above defaults.max_shards 16, the most a tag may ask for " +
				"(list the stream under streams to give it more)"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := base
			tt.change(&want)
			checkTagValues(t, base, tt.values, want, tt.want)
		})
	}
}

// TestWithTagValuesOnlyNarrow tries tags that would make the daemon less
// careful than the configuration file: each is left out.
func TestWithTagValuesOnlyNarrow(t *testing.T) {
	file := DefaultStreamSettings() // min 1, max 16, shard_level false, 48 changes a day
	file.MinShards = 2
	file.MaxShardChangesPerDay = 10
	lower := "a tag may not lower it (tags only narrow what the configuration allows; list the stream under streams to set it freely)"
	raise := "a tag may not raise it (tags only narrow what the configuration allows; list the stream under streams to set it freely)"
	tests := []struct {
		name   string
		values map[string]string
		want   []Problem
	}{
		{
			// The red-team attack: a tag halved a loaded stream and capped it.
			name:   "max_shards lowered to 1",
			values: map[string]string{"max_shards": "1"},
			want: []Problem{{Key: "max_shards", Reason: "1 is below defaults.max_shards 16: a tag may not lower max_shards, " +
				"which would cap or shrink a loaded stream (raise min_shards to narrow the range; list the stream under streams to set it freely)"}},
		},
		{name: "min_shards lowered", values: map[string]string{"min_shards": "1"},
			want: []Problem{{Key: "min_shards", Reason: "1 is below defaults.min_shards 2: " + lower}}},
		{name: "scale_up_threshold raised", values: map[string]string{"scale_up_threshold": "0.95"},
			want: []Problem{{Key: "scale_up_threshold", Reason: "0.95 is above defaults.scale_up_threshold 0.75: " + raise}}},
		{name: "scale_down_threshold raised", values: map[string]string{"scale_down_threshold": "0.3"},
			want: []Problem{{Key: "scale_down_threshold", Reason: "0.3 is above defaults.scale_down_threshold 0.25: " + raise}}},
		{name: "scale_up_after raised", values: map[string]string{"scale_up_after": "1h"},
			want: []Problem{{Key: "scale_up_after", Reason: "1h is above defaults.scale_up_after 2m: " + raise}}},
		{name: "scale_down_after lowered", values: map[string]string{"scale_down_after": "5m"},
			want: []Problem{{Key: "scale_down_after", Reason: "5m is below defaults.scale_down_after 30m: " + lower}}},
		{name: "cooldown_up raised", values: map[string]string{"cooldown_up": "24h"},
			want: []Problem{{Key: "cooldown_up", Reason: "24h is above defaults.cooldown_up 5m: " + raise}}},
		{name: "cooldown_down lowered", values: map[string]string{"cooldown_down": "0s"},
			want: []Problem{{Key: "cooldown_down", Reason: "0s is below defaults.cooldown_down 1h: " + lower}}},
		{name: "max_iterator_age raised", values: map[string]string{"max_iterator_age": "24h"},
			want: []Problem{{Key: "max_iterator_age", Reason: "24h is above defaults.max_iterator_age 5m: " + raise}}},
		{name: "shard_level turned on", values: map[string]string{"shard_level": "true"},
			want: []Problem{{Key: "shard_level", Reason: "true is above defaults.shard_level false: " + raise}}},
		{name: "max_shard_changes_per_day raised", values: map[string]string{"max_shard_changes_per_day": "48"},
			want: []Problem{{Key: "max_shard_changes_per_day", Reason: "48 is above defaults.max_shard_changes_per_day 10: " + raise}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkTagValues(t, file, tt.values, file, tt.want)
		})
	}
	t.Run("a lowered scale_up_threshold that clashes with the file's scale_down_threshold", func(t *testing.T) {
		narrowBand := file
		narrowBand.ScaleDownThreshold = 0.45
		checkTagValues(t, narrowBand, map[string]string{"scale_up_threshold": "0.5"}, narrowBand,
			[]Problem{{Key: "scale_up_threshold", Reason: "scale_down_threshold 0.45 is not below scale_up_threshold 0.5 minus 0.1"}})
	})
}

func checkTagValues(t *testing.T, base StreamSettings, values map[string]string, want StreamSettings, wantProblems []Problem) {
	t.Helper()
	{
		{
			got, problems := base.WithTagValues(values)
			if got != want {
				t.Errorf("settings = %+v, want %+v", got, want)
			}
			if !reflect.DeepEqual(problems, wantProblems) {
				t.Errorf("problems = %q, want %q", problems, wantProblems)
			}
		}
	}
}
