package policy

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The shard-level state a daemon keeps with a stream across restarts is
// small and bounded: the hot-key ranges (at most MaxHotKeys), the divided
// ranges (at most MaxDivided) and the SplitShard/MergeShards call times of
// the rolling 24 h (at most MaxCallsPerDay). The functions here turn them
// into tag values of at most 256 characters and back. The rest of
// ShardsObservation comes from AWS: SplitFrom from ListShards (a child's
// ParentShardId and that parent's range), the minutes from CloudWatch, and
// the profile, which starts empty after a restart and fills from the next
// clean minute (splits go to the midpoint until then, and no uniform
// reshard is made).

// MaxHotKeys bounds the hot-key ranges kept.
const MaxHotKeys = 8

// AddHotKey returns hot with r added, keeping the newest MaxHotKeys.
func AddHotKey(hot []KeyRange, r KeyRange) []KeyRange {
	out := append(append([]KeyRange(nil), hot...), r)
	if len(out) > MaxHotKeys {
		out = out[len(out)-MaxHotKeys:]
	}
	return out
}

// rangeDigits is the precision of a range in a tag value: 1e-6 of the key
// space.
const rangeDigits = 6

// FormatKeyRanges writes ranges as "lo-hi" pairs separated by spaces, each
// bound to 6 decimals, rounded outward so that the written range contains
// the range: at most 18 characters a range, 144 for 8.
func FormatKeyRanges(ranges []KeyRange) string {
	scale := math.Pow(10, rangeDigits)
	parts := make([]string, 0, len(ranges))
	for _, r := range ranges {
		lo := math.Max(math.Floor(r.Lo*scale)/scale, 0)
		hi := math.Min(math.Ceil(r.Hi*scale)/scale, 1)
		parts = append(parts, strconv.FormatFloat(lo, 'f', rangeDigits, 64)+"-"+strconv.FormatFloat(hi, 'f', rangeDigits, 64))
	}
	return strings.Join(parts, " ")
}

// ParseKeyRanges reads what FormatKeyRanges writes; it rejects a malformed
// value whole, naming the bad part.
func ParseKeyRanges(s string) ([]KeyRange, error) {
	var out []KeyRange
	for _, part := range strings.Fields(s) {
		lo, hi, ok := strings.Cut(part, "-")
		a, err1 := strconv.ParseFloat(lo, 64)
		b, err2 := strconv.ParseFloat(hi, 64)
		if !ok || err1 != nil || err2 != nil || !(0 <= a && a <= b && b <= 1) {
			return nil, fmt.Errorf("key range %q: want lo-hi with 0 <= lo <= hi <= 1", part)
		}
		out = append(out, KeyRange{Lo: a, Hi: b})
	}
	return out, nil
}

// FormatCallTimes writes the call times of the 24 h ending at now in
// minutes: the first as Unix minutes, the rest as minutes after the one
// before, in base 36, separated by spaces. Each time is rounded up to its
// minute, so that a call is not forgotten early, but not past now's minute,
// so that a call just made still counts as made. At most 5 characters for
// the first and 4 for each other: 193 for 48 calls.
func FormatCallTimes(calls []time.Time, now time.Time) string {
	var parts []string
	prev := int64(0)
	for _, c := range calls {
		if !c.After(now.Add(-QuotaWindow)) || c.After(now) {
			continue
		}
		m := min((c.Unix()+59)/60, now.Unix()/60)
		if len(parts) == 0 {
			parts = append(parts, strconv.FormatInt(m, 36))
		} else {
			parts = append(parts, strconv.FormatInt(max(m-prev, 0), 36))
		}
		prev = m
	}
	return strings.Join(parts, " ")
}

// ParseCallTimes reads what FormatCallTimes writes; it rejects a malformed
// value whole.
func ParseCallTimes(s string) ([]time.Time, error) {
	var out []time.Time
	var m int64
	for i, part := range strings.Fields(s) {
		v, err := strconv.ParseInt(part, 36, 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("call time %q: want base-36 minutes", part)
		}
		if i == 0 {
			m = v
		} else {
			m += v
		}
		out = append(out, time.Unix(m*60, 0).UTC())
	}
	return out, nil
}

// ErrStateTooLong is returned by CheckTagValue for a value over 256
// characters, the longest tag value AWS takes.
var ErrStateTooLong = errors.New("tag value longer than 256 characters")

// CheckTagValue returns ErrStateTooLong when v does not fit in one tag.
func CheckTagValue(v string) error {
	if len(v) > 256 {
		return fmt.Errorf("%d characters: %w", len(v), ErrStateTooLong)
	}
	return nil
}
