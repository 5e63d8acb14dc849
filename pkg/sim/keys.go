package sim

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Where the skewed load sits in the hash-key space, as fractions of it. The
// positions are fixed so that replays are reproducible, and irrational-like
// so that no uniform layout or midpoint split lines up with them.
const (
	// HotspotStart is where the hotspot slice begins (or 1-W when the slice
	// would not fit).
	HotspotStart = 0.6180339887
	// HotKeyAt is the point of the hash-key space the hot key hashes to.
	HotKeyAt = 0.3819660113
)

// KeySkew is how partition keys spread over the hash-key space. The zero
// value is evenly spread keys.
//
// A fraction HotspotFraction of the records falls evenly on the slice
// [HotspotStart, HotspotStart+HotspotWidth) of the key space (many keys of
// one busy tenant: a split divides them), a fraction HotKeyFraction on the
// single point HotKeyAt (one key: no split divides it), and the rest evenly
// everywhere. A shard receives the records of the keys it owns.
type KeySkew struct {
	HotspotFraction float64
	HotspotWidth    float64
	HotKeyFraction  float64
}

// Even is true when keys are spread evenly.
func (k KeySkew) Even() bool { return k.HotspotFraction == 0 && k.HotKeyFraction == 0 }

// Validate reports every problem with the skew at once.
func (k KeySkew) Validate() error {
	var errs []error
	if !(k.HotspotFraction >= 0 && k.HotspotFraction <= 1) {
		errs = append(errs, fmt.Errorf("hotspot fraction %v: must be 0 to 1", k.HotspotFraction))
	}
	if k.HotspotFraction > 0 && !(k.HotspotWidth > 0 && k.HotspotWidth <= 1) {
		errs = append(errs, fmt.Errorf("hotspot width %v: must be above 0 and at most 1", k.HotspotWidth))
	}
	if !(k.HotKeyFraction >= 0 && k.HotKeyFraction < 1) {
		errs = append(errs, fmt.Errorf("hot key fraction %v: must be 0 to below 1", k.HotKeyFraction))
	}
	if k.HotspotFraction+k.HotKeyFraction > 1+1e-12 {
		errs = append(errs, fmt.Errorf("hotspot fraction %v and hot key fraction %v: together at most 1", k.HotspotFraction, k.HotKeyFraction))
	}
	return errors.Join(errs...)
}

// hotspot is the slice [lo, hi) that holds HotspotFraction.
func (k KeySkew) hotspot() (lo, hi float64) {
	lo = math.Min(HotspotStart, 1-k.HotspotWidth)
	return lo, lo + k.HotspotWidth
}

// Mass is the fraction of records whose keys fall in [lo, hi).
func (k KeySkew) Mass(lo, hi float64) float64 {
	if k.Even() {
		return hi - lo
	}
	base := 1 - k.HotspotFraction - k.HotKeyFraction
	m := base * (hi - lo)
	if k.HotspotFraction > 0 {
		slo, shi := k.hotspot()
		if ov := math.Min(hi, shi) - math.Max(lo, slo); ov > 0 {
			m += k.HotspotFraction * ov / k.HotspotWidth
		}
	}
	if k.HotKeyFraction > 0 && lo <= HotKeyAt && HotKeyAt < hi {
		m += k.HotKeyFraction
	}
	return m
}

// ParseHotspot reads --key-skew: hotspot:F:W, a fraction F of the load on a
// slice of width W of the key space.
func ParseHotspot(s string) (KeySkew, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || parts[0] != "hotspot" {
		return KeySkew{}, fmt.Errorf("key skew %q: want hotspot:F:W, e.g. hotspot:0.1:0.02", s)
	}
	f, err1 := strconv.ParseFloat(parts[1], 64)
	w, err2 := strconv.ParseFloat(parts[2], 64)
	if err1 != nil || err2 != nil {
		return KeySkew{}, fmt.Errorf("key skew %q: F and W must be numbers, e.g. hotspot:0.1:0.02", s)
	}
	if !(f > 0 && f <= 1) || !(w > 0 && w <= 1) {
		return KeySkew{}, fmt.Errorf("key skew %q: want 0 < F <= 1 and 0 < W <= 1", s)
	}
	return KeySkew{HotspotFraction: f, HotspotWidth: w}, nil
}
