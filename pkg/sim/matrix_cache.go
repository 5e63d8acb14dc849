package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// hindsightCacheVersion changes whenever Hindsight's programme or its
// answers change, so that a cache never serves a stale bound.
const hindsightCacheVersion = 1

// HindsightCache keeps hindsight bounds between runs of a matrix in a
// directory, one small JSON file per trace, peak and rules. The bounds
// depend only on the minutes' needs and AWS's rules, never on a policy, so
// a matrix replayed after a policy change reuses them (at a peak of 400
// shards they are most of a matrix's work). Only Lower, Upper and Exact are
// kept, not plans.
type HindsightCache struct {
	// Dir is the directory; it is created when first written.
	Dir string
}

// cachedBounds is what the cache keeps of a HindsightResult.
type cachedBounds struct {
	Version int   `json:"version"`
	Lower   int64 `json:"lower"`
	Upper   int64 `json:"upper"`
	Exact   bool  `json:"exact"`
}

// key names the bounds of needs under r.
func (c HindsightCache) key(needs []int, r PlanRules) string {
	h := sha256.New()
	var b [8]byte
	for _, v := range []int{hindsightCacheVersion, r.Window, r.MaxCalls, r.Spacing, len(needs)} {
		binary.LittleEndian.PutUint64(b[:], uint64(v))
		h.Write(b[:])
	}
	for _, n := range needs {
		binary.LittleEndian.PutUint64(b[:], uint64(n))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func (c HindsightCache) path(needs []int, r PlanRules) string {
	return filepath.Join(c.Dir, "hindsight-"+c.key(needs, r)+".json")
}

// Load returns the cached bounds of needs under r, if there are any.
func (c HindsightCache) Load(needs []int, r PlanRules) (HindsightResult, bool) {
	data, err := os.ReadFile(c.path(needs, r))
	if err != nil {
		return HindsightResult{}, false
	}
	var b cachedBounds
	if json.Unmarshal(data, &b) != nil || b.Version != hindsightCacheVersion || b.Lower <= 0 || b.Upper < b.Lower {
		return HindsightResult{}, false
	}
	return HindsightResult{Lower: b.Lower, Upper: b.Upper, Exact: b.Exact, Plan: Plan{ShardMinutes: b.Upper}}, true
}

// Store keeps the bounds of needs under r, writing the file whole or not
// at all.
func (c HindsightCache) Store(needs []int, r PlanRules, h HindsightResult) error {
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return fmt.Errorf("hindsight cache: %w", err)
	}
	data, err := json.Marshal(cachedBounds{Version: hindsightCacheVersion, Lower: h.Lower, Upper: h.Upper, Exact: h.Exact})
	if err != nil {
		return fmt.Errorf("hindsight cache: %w", err)
	}
	tmp, err := os.CreateTemp(c.Dir, "hindsight-*.tmp")
	if err != nil {
		return fmt.Errorf("hindsight cache: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("hindsight cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path(needs, r)); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("hindsight cache: %w", err)
	}
	return nil
}

// cachedHindsightBounds gives the scenario its hindsight bounds from the
// cache, or computes and stores them.
func (sc *Scenario) cachedHindsightBounds(c *HindsightCache) error {
	if c == nil {
		sc.hindsightBounds()
		return nil
	}
	r := AWSPlanRules(sc.Model.ReshardTime)
	h := sc.hind
	h.mu.Lock()
	if h.bounds == nil && h.full == nil {
		if res, ok := c.Load(sc.load.needs, r); ok {
			h.bounds = &res
		}
	}
	known := h.bounds != nil || h.full != nil
	h.mu.Unlock()
	if known {
		return nil
	}
	return c.Store(sc.load.needs, r, sc.hindsightBounds())
}
