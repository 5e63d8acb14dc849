package stream

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// Stream tags that hold the shard-level history. Each value stays within
// Kinesis's 256 characters: what does not fit is the oldest, and is left
// out.
const (
	// TagShardCalls holds the SplitShard and MergeShards calls of the last
	// 24 h as "FIRST M1 M2 ...": FIRST is the Unix seconds of the oldest
	// call, each M the minutes from it to a later call, rounded up (a call
	// is counted a little longer, never shorter).
	TagShardCalls = TagPrefix + "shard-calls"
	// TagHotKeys holds the ranges found to hold a hot key as "LO:HI ...",
	// fractions of the hash-key space.
	TagHotKeys = TagPrefix + "hot-keys"
	// TagSplits holds the splits the daemon made as "SHARD:LO:HI:KEPT ...":
	// the shard split (its number, shardId- and leading zeros left out), its
	// range and the share of its parent's load it had kept.
	TagSplits = TagPrefix + "splits"
	// TagDivided holds the ranges in which a layout showed excess load on
	// both sides of a boundary as "LO:HI ...": many hot keys, not one.
	TagDivided = TagPrefix + "divided"
)

// shardStateTags are the tags of the shard-level history, state tags like
// those of the stream's history: never read as settings.
var shardStateTags = []string{TagShardCalls, TagHotKeys, TagSplits, TagDivided}

// MaxShardCalls is the most SplitShard and MergeShards calls TagShardCalls
// records: a daily cap above it could not be kept across restarts.
const MaxShardCalls = 48

// maxTagValue is Kinesis's limit on a tag value's length.
const maxTagValue = 256

// ShardHistoryTags returns the tags that record h, each only when h has
// something for it. Calls older than 24 h before the newest are left out,
// and beyond MaxShardCalls the oldest; hot keys and splits are kept newest
// first as far as a tag value holds them.
func ShardHistoryTags(h policy.ShardLevelHistory) map[string]string {
	tags := map[string]string{}
	calls := slices.Clone(h.Calls)
	slices.SortFunc(calls, time.Time.Compare)
	if n := len(calls); n > 0 {
		newest := calls[n-1]
		calls = slices.DeleteFunc(calls, func(c time.Time) bool { return !c.After(newest.Add(-policy.QuotaWindow)) })
		calls = calls[max(len(calls)-MaxShardCalls, 0):]
		first := calls[0].Truncate(time.Second)
		parts := []string{strconv.FormatInt(first.Unix(), 10)}
		for _, c := range calls[1:] {
			parts = append(parts, strconv.FormatInt(int64(math.Ceil(c.Sub(first).Minutes())), 10))
		}
		tags[TagShardCalls] = strings.Join(parts, " ")
	}
	var hot []string
	for _, r := range h.HotKeys {
		hot = append(hot, fraction(r.Lo)+":"+fraction(r.Hi))
	}
	if v := newestThatFit(hot); v != "" {
		tags[TagHotKeys] = v
	}
	var divided []string
	for _, r := range h.Divided {
		divided = append(divided, fraction(r.Lo)+":"+fraction(r.Hi))
	}
	if v := newestThatFit(divided); v != "" {
		tags[TagDivided] = v
	}
	var splits []string
	for _, s := range h.Splits {
		splits = append(splits, shortShardID(s.Parent)+":"+fraction(s.Range.Lo)+":"+fraction(s.Range.Hi)+":"+
			strconv.FormatFloat(s.Kept, 'f', 4, 64))
	}
	if v := newestThatFit(splits); v != "" {
		tags[TagSplits] = v
	}
	return tags
}

// newestThatFit joins the newest items, the last ones, that fit in a tag
// value, oldest first.
func newestThatFit(items []string) string {
	n, length := 0, -1
	for i := len(items) - 1; i >= 0; i-- {
		if length+1+len(items[i]) > maxTagValue {
			break
		}
		length += 1 + len(items[i])
		n++
	}
	return strings.Join(items[len(items)-n:], " ")
}

func fraction(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// shortShardID leaves out the "shardId-" prefix and leading zeros of an AWS
// shard id; other ids are kept whole.
func shortShardID(id string) string {
	num, ok := strings.CutPrefix(id, "shardId-")
	if !ok || num == "" || strings.Trim(num, "0123456789") != "" {
		return id
	}
	if short := strings.TrimLeft(num, "0"); short != "" {
		return short
	}
	return "0"
}

// longShardID undoes shortShardID.
func longShardID(s string) string {
	if s == "" || strings.Trim(s, "0123456789") != "" || len(s) > 12 {
		return s
	}
	return "shardId-" + strings.Repeat("0", 12-len(s)) + s
}

// ParseShardHistory reads a shard-level history from stream tags, as of
// now. Values it cannot trust are left out and described in the returned
// problems; calls older than 24 h are dropped.
func ParseShardHistory(tags map[string]string, now time.Time) (policy.ShardLevelHistory, []error) {
	var h policy.ShardLevelHistory
	var problems []error
	bad := func(key, value, reason string) {
		problems = append(problems, &MalformedTagError{Key: key, Value: value, Reason: reason})
	}
	if v, ok := tags[TagShardCalls]; ok {
		f := strings.Fields(v)
		if len(f) > 0 {
			if first, reason := parseCall(f[0], now); reason != "" {
				bad(TagShardCalls, v, fmt.Sprintf("first call %q: %s", f[0], reason))
			} else {
				h.Calls = append(h.Calls, first)
				for _, part := range f[1:] {
					m, err := strconv.Atoi(part)
					c := first.Add(time.Duration(m) * time.Minute)
					if err != nil || m < 0 || m > int(policy.QuotaWindow/time.Minute) || c.After(now.Add(maxClockSkew)) {
						bad(TagShardCalls, v, fmt.Sprintf("minutes %q are not 0 to 1440 after the first call and in the past", part))
						continue
					}
					h.Calls = append(h.Calls, c)
				}
			}
		}
		h.Calls = slices.DeleteFunc(h.Calls, func(c time.Time) bool { return !c.After(now.Add(-policy.QuotaWindow)) })
		slices.SortFunc(h.Calls, time.Time.Compare)
	}
	if v, ok := tags[TagHotKeys]; ok {
		for _, part := range strings.Fields(v) {
			f := strings.Split(part, ":")
			r, ok := parseRange(f)
			if len(f) != 2 || !ok {
				bad(TagHotKeys, v, fmt.Sprintf("%q is not LO:HI with 0 <= LO < HI <= 1", part))
				continue
			}
			h.HotKeys = append(h.HotKeys, r)
		}
	}
	if v, ok := tags[TagDivided]; ok {
		for _, part := range strings.Fields(v) {
			f := strings.Split(part, ":")
			r, ok := parseRange(f)
			if len(f) != 2 || !ok {
				// A divided range may be a single point (LO = HI).
				lo, err1 := strconv.ParseFloat(f[0], 64)
				hi, err2 := strconv.ParseFloat(f[len(f)-1], 64)
				if len(f) != 2 || err1 != nil || err2 != nil || !(lo >= 0 && lo == hi && hi <= 1) {
					bad(TagDivided, v, fmt.Sprintf("%q is not LO:HI with 0 <= LO <= HI <= 1", part))
					continue
				}
				r = policy.KeyRange{Lo: lo, Hi: hi}
			}
			h.Divided = append(h.Divided, r)
		}
	}
	if v, ok := tags[TagSplits]; ok {
		for _, part := range strings.Fields(v) {
			f := strings.Split(part, ":")
			if len(f) != 4 || f[0] == "" {
				bad(TagSplits, v, fmt.Sprintf("%q is not SHARD:LO:HI:KEPT", part))
				continue
			}
			r, ok := parseRange(f[1:3])
			kept, err := strconv.ParseFloat(f[3], 64)
			if !ok || err != nil || !(kept >= 0 && kept <= 1) {
				bad(TagSplits, v, fmt.Sprintf("%q is not SHARD:LO:HI:KEPT with 0 <= LO < HI <= 1 and KEPT from 0 to 1", part))
				continue
			}
			h.Splits = append(h.Splits, policy.SplitRecord{Parent: longShardID(f[0]), Range: r, Kept: kept})
		}
	}
	return h, problems
}

// parseRange reads LO and HI of a range of the key space.
func parseRange(f []string) (policy.KeyRange, bool) {
	if len(f) != 2 {
		return policy.KeyRange{}, false
	}
	lo, err1 := strconv.ParseFloat(f[0], 64)
	hi, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil || !(lo >= 0 && lo < hi && hi <= 1) {
		return policy.KeyRange{}, false
	}
	return policy.KeyRange{Lo: lo, Hi: hi}, true
}
