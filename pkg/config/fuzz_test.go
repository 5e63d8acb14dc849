package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzLoad loads arbitrary bytes as a configuration file: Load must never
// panic, must return either a valid Config or an *Error with problems, and a
// Config it accepts must survive the round trip through Effective.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{goodDir, badDir} {
		files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
		if err != nil {
			f.Fatal(err)
		}
		for _, path := range files {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("streams: [ \"a\" ]"))
	f.Add([]byte("defaults: [1, 2]\nstreams: 5"))
	f.Add([]byte("streams: [{name: a, max_shards: 1e400, cooldown_up: -1h, <<: {min_shards: null}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path)
		if err != nil {
			var cfgErr *Error
			if !errors.As(err, &cfgErr) || len(cfgErr.Problems) == 0 {
				t.Fatalf("Load error %v (%T) is not an *Error with problems", err, err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Load accepted a config that Validate rejects: %v", err)
		}
		rendered := filepath.Join(t.TempDir(), "effective.yaml")
		if err := os.WriteFile(rendered, []byte(cfg.Effective()), 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := Load(rendered)
		if err != nil {
			t.Fatalf("Effective() does not load: %v\n%s", err, cfg.Effective())
		}
		again.File = cfg.File
		if !reflect.DeepEqual(again, cfg) {
			t.Fatalf("round trip through Effective()\n got %+v\nwant %+v", again, cfg)
		}
	})
}
