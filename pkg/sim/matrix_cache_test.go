package sim

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestHindsightCache(t *testing.T) {
	tr := scenario(t, "flash-crowd").Trace(0)
	tr.Minutes = tr.Minutes[:12*60]
	dir := filepath.Join(t.TempDir(), "cache")
	o := MatrixOptions{Traces: []Trace{tr}, Peaks: []int{6}, MetricDelays: []time.Duration{time.Minute},
		Policies: []string{PolicyDefault}, Model: DefaultModel(), HindsightCache: &HindsightCache{Dir: dir},
		Warn: func(err error) { t.Errorf("cache: %v", err) }}
	first := runMatrix(t, o)
	files, _ := filepath.Glob(filepath.Join(dir, "hindsight-*.json"))
	if len(files) != 1 {
		t.Fatalf("%d cache files, want 1", len(files))
	}
	second := runMatrix(t, o)
	a, _ := first[0].Result(PolicyDefault)
	b, _ := second[0].Result(PolicyDefault)
	if a.HindsightShardHours != b.HindsightShardHours || a.HindsightUpperShardHours != b.HindsightUpperShardHours ||
		a.HindsightExact != b.HindsightExact || a.XHindsight != b.XHindsight {
		t.Fatalf("from the cache %+v, computed %+v", b, a)
	}
	uncached := o
	uncached.HindsightCache = nil
	if c, _ := runMatrix(t, uncached)[0].Result(PolicyDefault); c.HindsightShardHours != a.HindsightShardHours {
		t.Fatalf("without a cache %.2f shard-hours, with one %.2f", c.HindsightShardHours, a.HindsightShardHours)
	}

	// The matrix reads the cache: bounds planted in it are the ones reported.
	if err := os.WriteFile(files[0], []byte(`{"version":1,"lower":60,"upper":120,"exact":false}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if p, _ := runMatrix(t, o)[0].Result(PolicyDefault); p.HindsightShardHours != 1 || p.HindsightUpperShardHours != 2 {
		t.Fatalf("planted bounds not read: %.2f and %.2f shard-hours", p.HindsightShardHours, p.HindsightUpperShardHours)
	}
	// A damaged or stale file is recomputed and rewritten.
	for _, bad := range []string{`{"version":1,"lower`, `{"version":0,"lower":60,"upper":120}`} {
		if err := os.WriteFile(files[0], []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if r, _ := runMatrix(t, o)[0].Result(PolicyDefault); r.HindsightShardHours != a.HindsightShardHours {
			t.Fatalf("after a bad cache file %q: %.2f shard-hours, want %.2f", bad, r.HindsightShardHours, a.HindsightShardHours)
		}
	}
	// A cache that cannot be written is reported, and the matrix goes on.
	var warned error
	blocked := o
	blocked.HindsightCache = &HindsightCache{Dir: filepath.Join(files[0], "not-a-dir")}
	blocked.Warn = func(err error) { warned = err }
	if r, _ := runMatrix(t, blocked)[0].Result(PolicyDefault); warned == nil || r.HindsightShardHours != a.HindsightShardHours {
		t.Fatalf("unwritable cache: warning %v, %.2f shard-hours", warned, r.HindsightShardHours)
	}
}
