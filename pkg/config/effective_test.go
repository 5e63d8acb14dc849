package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestEffectiveRoundTrip checks that the rendering of a loaded file loads
// back to the same configuration.
func TestEffectiveRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(goodDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range append(files, example) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want, err := Load(path)
			if err != nil {
				t.Fatalf("Load(%s): %v", path, err)
			}
			rendered := filepath.Join(t.TempDir(), "effective.yaml")
			if err := os.WriteFile(rendered, []byte(want.Effective()), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := Load(rendered)
			if err != nil {
				t.Fatalf("Load(Effective()): %v\n%s", err, want.Effective())
			}
			got.File = want.File
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestEffective(t *testing.T) {
	c, err := Load(filepath.Join(goodDir, "overrides.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got := c.Effective()
	for _, want := range []string{
		"poll_interval: 1m\n",
		"  region: \"\"\n",
		"  max_shards: 32\n",
		"  - name: \"orders\"\n    min_shards: 1\n    max_shards: 8\n",
		"    max_iterator_age: 30s\n",
		"    cooldown_down: 3h\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Effective() lacks %q:\n%s", want, got)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		name string
		in   time.Duration
		want string
	}{
		{name: "zero", in: 0, want: "0s"},
		{name: "seconds", in: 30 * time.Second, want: "30s"},
		{name: "minutes", in: 5 * time.Minute, want: "5m"},
		{name: "minutes and seconds", in: 90 * time.Second, want: "1m30s"},
		{name: "hours", in: time.Hour, want: "1h"},
		{name: "hours and minutes", in: 90 * time.Minute, want: "1h30m"},
		{name: "hours and seconds", in: time.Hour + time.Second, want: "1h0m1s"},
		{name: "a week", in: 7 * 24 * time.Hour, want: "168h"},
		{name: "negative", in: -5 * time.Minute, want: "-5m"},
		{name: "sub-second", in: 1500 * time.Millisecond, want: "1.5s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatDuration(tt.in); got != tt.want {
				t.Errorf("formatDuration(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
