package config

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestReference(t *testing.T) {
	docs := Reference()
	seen := map[string]bool{}
	for _, d := range docs {
		if seen[d.Key] {
			t.Errorf("key %s documented twice", d.Key)
		}
		seen[d.Key] = true
		if d.Meaning == "" || d.Allowed == "" {
			t.Errorf("key %s lacks a meaning or allowed values: %+v", d.Key, d)
		}
	}
	for _, want := range []KeyDoc{
		{
			Key: "poll_interval", Default: "1m", Allowed: "10s to 1h",
			Env: "KINESIS_AUTOSCALER_POLL_INTERVAL", Meaning: "how often every stream is evaluated",
		},
		{
			Key: "defaults.max_iterator_age", Default: "5m", Allowed: "more than 0s",
			Env:     "KINESIS_AUTOSCALER_DEFAULTS_MAX_ITERATOR_AGE",
			Meaning: "no scale-down while the consumers' iterator age is above this (for every stream that does not set it)",
		},
		{
			Key: "aws.region", Default: `""`, Allowed: "an AWS region, e.g. eu-west-1, or empty",
			Env:     "KINESIS_AUTOSCALER_AWS_REGION",
			Meaning: "AWS region; empty uses the SDK's default chain (AWS_REGION, AWS_DEFAULT_REGION, profile)",
		},
	} {
		if !slices.Contains(docs, want) {
			t.Errorf("Reference() lacks %+v", want)
		}
	}
	// Every key of the structs is documented: the minimal file's effective
	// rendering has one line per key, and each is in Reference.
	c, err := Load(filepath.Join(goodDir, "minimal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !seen[k.path] {
			t.Errorf("key %s is not in Reference()", k.path)
		}
	}
	if len(keys) != 20+len(settings) || len(settings) != 12 {
		t.Errorf("%d keys and %d settings, want 32 and 12: update the tests and README", len(keys), len(settings))
	}
	if c.Defaults != DefaultStreamSettings() || c.Defaults != builtIn {
		t.Errorf("defaults = %+v, DefaultStreamSettings() = %+v, want %+v", c.Defaults, DefaultStreamSettings(), builtIn)
	}
}
