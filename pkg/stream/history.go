package stream

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// Stream tags that hold the scaling history. Values use only characters
// Kinesis allows in tag values and stay far below its 256-character limit.
const (
	// TagPrefix starts every tag the daemon writes.
	TagPrefix = "kinesis-autoscaler:"
	// TagLastAction holds the last action as "direction from to time", e.g.
	// "up 2 4 2026-11-25T14:00:00Z", and " merges" after a halving by
	// merges ("down 8 4 2026-11-25T14:00:00Z merges").
	TagLastAction = TagPrefix + "last-action"
	// TagCalls holds the Unix seconds of the UpdateShardCount calls of the
	// rolling quota window, oldest first, separated by spaces.
	TagCalls = TagPrefix + "calls"
	// TagShards holds the open shard count the daemon's last change left
	// (an UpdateShardCount, a split or a merge), e.g. "8".
	TagShards = TagPrefix + "shards"
)

// stateTags are the tags that hold the daemon's state, not settings.
var stateTags = []string{TagLastAction, TagCalls, TagShards}

// IsStateTag reports whether key is a tag the daemon writes to keep its
// state (the stream's record, its pause), as opposed to a setting a person
// wrote.
func IsStateTag(key string) bool {
	return slices.Contains(recordTags, key) || key == TagPaused
}

// Limits that keep a malformed tag from yielding absurd values.
const (
	// maxShardCount is more shards than any stream can have.
	maxShardCount = 100_000
	// maxClockSkew is how far in the future a recorded time may be before it
	// is refused as malformed.
	maxClockSkew = policy.MaxClockSkew
)

// MalformedTagError describes a record tag LoadRecord ignored.
type MalformedTagError struct {
	Key, Value string
	// Reason says what is wrong with the value.
	Reason string
}

// Error implements error.
func (e *MalformedTagError) Error() string {
	return fmt.Sprintf("ignored tag %s=%q: %s", e.Key, e.Value, e.Reason)
}

// ListTags returns every tag of the stream, following HasMoreTags.
func (k *Kinesis) ListTags(ctx context.Context, name string) (map[string]string, error) {
	tags := map[string]string{}
	var after *string
	for {
		if err := k.pace(ctx, opListTagsForStream); err != nil {
			return nil, err
		}
		out, err := k.client.ListTagsForStream(ctx, &kinesis.ListTagsForStreamInput{
			StreamName: aws.String(name), ExclusiveStartTagKey: after, Limit: aws.Int32(50),
		})
		if err != nil {
			return nil, fmt.Errorf("list tags of stream %q: %w", name, classify(err, false))
		}
		for _, t := range out.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if !aws.ToBool(out.HasMoreTags) || len(out.Tags) == 0 {
			return tags, nil
		}
		after = out.Tags[len(out.Tags)-1].Key
	}
}

// HistoryTags returns the tags that record h: TagLastAction when h has a last
// action, TagCalls when it has calls, TagShards when its shard count is
// known. Only the calls that can still count
// against the quota are kept: those within the quota window of the newest
// call, at most policy.MaxUpdateCalls of them.
func HistoryTags(h policy.History) map[string]string {
	tags := map[string]string{}
	if a := h.LastAction; a != nil {
		tags[TagLastAction] = fmt.Sprintf("%s %d %d %s", a.Direction, a.From, a.To, a.At.UTC().Format(time.RFC3339))
		if a.ByMerges {
			tags[TagLastAction] += " " + byMerges
		}
	}
	if n := h.Expected(); n > 0 {
		tags[TagShards] = strconv.Itoa(n)
	}
	calls := slices.Clone(h.Calls)
	slices.SortFunc(calls, time.Time.Compare)
	if n := len(calls); n > 0 {
		newest := calls[n-1]
		calls = slices.DeleteFunc(calls, func(c time.Time) bool { return !c.After(newest.Add(-policy.QuotaWindow)) })
		calls = calls[max(len(calls)-policy.MaxUpdateCalls, 0):]
		secs := make([]string, len(calls))
		for i, c := range calls {
			secs[i] = strconv.FormatInt(c.Unix(), 10)
		}
		tags[TagCalls] = strings.Join(secs, " ")
	}
	return tags
}

// ParseHistory reads a history from stream tags, as of now. Tags it cannot
// trust are left out and described in the returned problems: a last action
// must have a direction of up or down that matches its shard counts, counts
// from 1 to 100,000 and a time not in the future; each call must be a
// positive Unix time not in the future; a shard count a whole number from 1
// to 100,000. Calls that left the quota window are
// dropped; of the rest, the newest policy.MaxUpdateCalls are kept.
func ParseHistory(tags map[string]string, now time.Time) (policy.History, []error) {
	var h policy.History
	var problems []error
	if v, ok := tags[TagLastAction]; ok {
		a, reason := parseAction(v, now)
		if reason != "" {
			problems = append(problems, &MalformedTagError{Key: TagLastAction, Value: v, Reason: reason})
		} else {
			h.LastAction = &a
			h.Shards = a.To
		}
	}
	if v, ok := tags[TagShards]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxShardCount {
			problems = append(problems, &MalformedTagError{Key: TagShards, Value: v,
				Reason: fmt.Sprintf("want a whole number of shards from 1 to %d", maxShardCount)})
		} else {
			h.Shards = n
		}
	}
	if v, ok := tags[TagCalls]; ok {
		for _, f := range strings.Fields(v) {
			c, reason := parseCall(f, now)
			if reason != "" {
				problems = append(problems, &MalformedTagError{Key: TagCalls, Value: v, Reason: fmt.Sprintf("call %q: %s", f, reason)})
				continue
			}
			if c.After(now.Add(-policy.QuotaWindow)) {
				h.Calls = append(h.Calls, c)
			}
		}
		slices.SortFunc(h.Calls, time.Time.Compare)
		h.Calls = slices.Compact(h.Calls)
		if n := len(h.Calls); n > policy.MaxUpdateCalls {
			problems = append(problems, &MalformedTagError{Key: TagCalls, Value: v,
				Reason: fmt.Sprintf("%d calls in the quota window, more than AWS allows: kept the newest %d", n, policy.MaxUpdateCalls)})
			h.Calls = h.Calls[n-policy.MaxUpdateCalls:]
		}
	}
	return h, problems
}

// byMerges ends a last action that is a halving by merges
// (policy.Action.ByMerges).
const byMerges = "merges"

// parseAction reads "direction from to time", followed by "merges" for a
// halving by merges; it returns why the value is refused, or "".
func parseAction(v string, now time.Time) (policy.Action, string) {
	f := strings.Fields(v)
	merges := len(f) == 5 && f[4] == byMerges
	if len(f) != 4 && !merges {
		return policy.Action{}, "want \"direction from to time\", and \"merges\" after a halving by merges"
	}
	dir := policy.Direction(f[0])
	if dir != policy.DirectionUp && dir != policy.DirectionDown {
		return policy.Action{}, fmt.Sprintf("direction %q is neither up nor down", f[0])
	}
	from, err1 := strconv.Atoi(f[1])
	to, err2 := strconv.Atoi(f[2])
	if err1 != nil || err2 != nil || from < 1 || to < 1 || from > maxShardCount || to > maxShardCount {
		return policy.Action{}, fmt.Sprintf("shard counts must be whole numbers from 1 to %d", maxShardCount)
	}
	if (dir == policy.DirectionUp) != (to > from) || from == to {
		return policy.Action{}, fmt.Sprintf("%s from %d to %d is not a change in that direction", dir, from, to)
	}
	at, err := time.Parse(time.RFC3339, f[3])
	if err != nil {
		return policy.Action{}, "time is not RFC 3339"
	}
	if at.After(now.Add(maxClockSkew)) {
		return policy.Action{}, "time is in the future"
	}
	if merges && (dir != policy.DirectionDown || from != 2*to) {
		return policy.Action{}, fmt.Sprintf("a halving by merges goes down to half, not %s from %d to %d", dir, from, to)
	}
	return policy.Action{At: at.UTC(), From: from, To: to, Direction: dir, ByMerges: merges}, ""
}

// parseCall reads Unix seconds; it returns why the value is refused, or "".
func parseCall(f string, now time.Time) (time.Time, string) {
	secs, err := strconv.ParseInt(f, 10, 64)
	if err != nil || secs <= 0 {
		return time.Time{}, "not a positive Unix time"
	}
	c := time.Unix(secs, 0).UTC()
	if c.After(now.Add(maxClockSkew)) {
		return time.Time{}, "in the future"
	}
	return c, ""
}
