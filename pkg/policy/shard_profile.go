package policy

import (
	"math"
	"slices"
)

// ObserveProfile returns profile p with range r's share of the stream's load
// set to share: p's segments are cut at r's ends, and those inside r are
// scaled so that they add up to share, keeping the finer structure a
// narrower shard once showed (spread by width when they add up to 0). An
// empty p starts as one segment over the whole key space.
func ObserveProfile(p []RangeLoad, r KeyRange, share float64) []RangeLoad {
	if r.Width() <= 0 || math.IsNaN(share) || share < 0 {
		return p
	}
	if len(p) == 0 {
		p = []RangeLoad{{Range: KeyRange{Lo: 0, Hi: 1}, Share: 0}}
	}
	out := make([]RangeLoad, 0, len(p)+2)
	inside := 0.0
	var first int = -1
	for _, seg := range p {
		for _, part := range cut(seg, r) {
			if r.Contains(part.Range) {
				if first < 0 {
					first = len(out)
				}
				inside += part.Share
			}
			out = append(out, part)
		}
	}
	if first < 0 {
		return out
	}
	for i := first; i < len(out) && r.Contains(out[i].Range); i++ {
		if inside > 0 {
			out[i].Share *= share / inside
		} else {
			out[i].Share = share * out[i].Range.Width() / r.Width()
		}
	}
	return out
}

// cut splits seg at r's ends, sharing its load by width.
func cut(seg RangeLoad, r KeyRange) []RangeLoad {
	out := []RangeLoad{seg}
	for _, at := range []float64{r.Lo, r.Hi} {
		last := out[len(out)-1]
		if at > last.Range.Lo+1e-15 && at < last.Range.Hi-1e-15 {
			f := (at - last.Range.Lo) / last.Range.Width()
			out = append(out[:len(out)-1],
				RangeLoad{Range: KeyRange{Lo: last.Range.Lo, Hi: at}, Share: last.Share * f},
				RangeLoad{Range: KeyRange{Lo: at, Hi: last.Range.Hi}, Share: last.Share * (1 - f)})
		}
	}
	return out
}

// profileShare is the load share the profile puts in r, and whether the
// profile covers r.
func profileShare(p []RangeLoad, r KeyRange) (float64, bool) {
	if len(p) == 0 {
		return 0, false
	}
	share, covered := 0.0, 0.0
	for _, seg := range p {
		ov := math.Min(seg.Range.Hi, r.Hi) - math.Max(seg.Range.Lo, r.Lo)
		if ov > 0 && seg.Range.Width() > 0 {
			share += seg.Share * ov / seg.Range.Width()
			covered += ov
		}
	}
	return share, covered >= r.Width()*(1-1e-9)
}

// splitPoint is where the profile says r's load divides in half, kept
// within the middle 98 % of r; the midpoint when the profile has no finer
// structure inside r than uniform.
func splitPoint(r KeyRange, p []RangeLoad) float64 {
	mid := (r.Lo + r.Hi) / 2
	total, ok := profileShare(p, r)
	if !ok || total <= 0 {
		return mid
	}
	var acc float64
	at := mid
	uniform := true
	density := -1.0
	for _, seg := range p {
		lo, hi := math.Max(seg.Range.Lo, r.Lo), math.Min(seg.Range.Hi, r.Hi)
		if hi <= lo || seg.Range.Width() <= 0 {
			continue
		}
		d := seg.Share / seg.Range.Width()
		if density >= 0 && math.Abs(d-density) > 1e-6*math.Max(d, density) {
			uniform = false
		}
		density = d
		part := d * (hi - lo)
		if acc < total/2 && acc+part >= total/2 && part > 0 {
			at = lo + (total/2-acc)/d
		}
		acc += part
	}
	if uniform {
		return mid
	}
	edge := 0.01 * r.Width()
	return math.Min(math.Max(at, r.Lo+edge), r.Hi-edge)
}

// ObserveLayout returns profile p updated with the shares of a whole layout:
// shards, in hash-key order, that cover the key space once. It does what
// ObserveProfile does for each of them, in one pass, and joins neighbouring
// segments of equal density.
func ObserveLayout(p []RangeLoad, shards []RangeLoad) []RangeLoad {
	if len(p) == 0 {
		p = []RangeLoad{{Range: KeyRange{Lo: 0, Hi: 1}, Share: 0}}
	}
	out := make([]RangeLoad, 0, len(p)+len(shards))
	si := 0
	for _, seg := range p {
		for si < len(shards) && seg.Range.Width() > 1e-15 {
			sh := shards[si].Range
			if sh.Hi <= seg.Range.Lo+1e-15 {
				si++
				continue
			}
			if seg.Range.Hi <= sh.Hi+1e-15 {
				break
			}
			parts := cut(seg, KeyRange{Lo: seg.Range.Lo, Hi: sh.Hi})
			out = append(out, parts[0])
			seg = parts[len(parts)-1]
			si++
		}
		out = append(out, seg)
	}
	// Scale the segments inside each shard to its share.
	j := 0
	for _, sh := range shards {
		start, inside := j, 0.0
		for j < len(out) && out[j].Range.Hi <= sh.Range.Hi+1e-15 {
			inside += out[j].Share
			j++
		}
		for k := start; k < j; k++ {
			if inside > 0 {
				out[k].Share *= sh.Share / inside
			} else {
				out[k].Share = sh.Share * out[k].Range.Width() / math.Max(sh.Range.Width(), 1e-300)
			}
		}
	}
	return compact(out)
}

// compact joins neighbouring segments of equal density.
func compact(p []RangeLoad) []RangeLoad {
	out := p[:0]
	for _, seg := range p {
		if n := len(out); n > 0 {
			last := &out[n-1]
			d1, d2 := last.Share/last.Range.Width(), seg.Share/seg.Range.Width()
			if math.Abs(d1-d2) <= 1e-9*math.Max(d1, d2) {
				last.Range.Hi, last.Share = seg.Range.Hi, last.Share+seg.Share
				continue
			}
		}
		out = append(out, seg)
	}
	return out
}

// DividedFactor is how many times the stream's background density both
// shards beside a boundary must carry for the boundary to divide excess
// load (see ObserveDivided).
const DividedFactor = 1.25

// MaxDivided bounds how many divided ranges ObserveDivided keeps.
const MaxDivided = 8

// ObserveDivided returns divided, the ranges in which boundaries were seen
// with excess load on both sides, updated with a clean layout: shards in
// hash-key order that cover the key space once, with their shares of the
// load, need the stream's load in shards. A boundary between two shards
// that each carry more than DividedFactor times the background density (the
// shards' lower median density) and at least floor of a shard's capacity (below
// that a few records make the density) divides excess load: the hot keys
// there are many, on both sides. Its
// point joins the divided range that the two shards' ranges touch, or
// starts a new one; at most MaxDivided ranges are kept, the newest.
func ObserveDivided(divided []KeyRange, shards []RangeLoad, need, floor float64) []KeyRange {
	if len(shards) < 2 {
		return divided
	}
	ds := make([]float64, 0, len(shards))
	for _, sh := range shards {
		if w := sh.Range.Width(); w > 0 {
			ds = append(ds, sh.Share/w)
		}
	}
	if len(ds) == 0 {
		return divided
	}
	slices.Sort(ds)
	bg := ds[(len(ds)-1)/2]
	hot := func(sh RangeLoad) bool {
		w := sh.Range.Width()
		return w > 0 && sh.Share/w > DividedFactor*bg && sh.Share*need >= floor
	}
	out := slices.Clone(divided)
	for i := 0; i+1 < len(shards); i++ {
		a, b := shards[i], shards[i+1]
		if !hot(a) || !hot(b) {
			continue
		}
		at := a.Range.Hi
		near := KeyRange{Lo: a.Range.Lo, Hi: b.Range.Hi}
		j := slices.IndexFunc(out, func(d KeyRange) bool { return d.Lo <= near.Hi && near.Lo <= d.Hi })
		if j < 0 {
			out = append(out, KeyRange{Lo: at, Hi: at})
			continue
		}
		d := KeyRange{Lo: math.Min(out[j].Lo, at), Hi: math.Max(out[j].Hi, at)}
		out = append(slices.Delete(out, j, j+1), d)
	}
	if len(out) > MaxDivided {
		out = out[len(out)-MaxDivided:]
	}
	return out
}

// dividedInside is true when a divided range has a point strictly inside r.
func dividedInside(divided []KeyRange, r KeyRange) bool {
	for _, d := range divided {
		if math.Max(d.Lo, r.Lo) < math.Min(d.Hi, r.Hi) || (r.Lo < d.Lo && d.Lo < r.Hi) || (r.Lo < d.Hi && d.Hi < r.Hi) {
			return true
		}
	}
	return false
}
