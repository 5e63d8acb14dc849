package notify

import (
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// MaxSubjectLength is the longest subject Subject returns; SNS requires
// fewer than 100 characters.
const MaxSubjectLength = 99

// Subject is a one-line ASCII summary of the alert that names the stream and
// what happened, e.g. "[kinesis-autoscaler] clicks: scaled up 2 -> 4
// shards". Dry-run alerts start with "[DRY RUN]". Characters outside
// printable ASCII are replaced and a stream name too long to fit is shortened
// in the middle, so that the subject always suits an SNS email subject.
func Subject(a policy.Alert) string {
	prefix := "[kinesis-autoscaler] "
	if a.DryRun {
		prefix = "[DRY RUN] "
	}
	action := asciiLine(subjectAction(a))
	if Scope(a.Kind) == ScopeDaemon {
		// No "NAME:" before the action: it would read as a stream's name.
		return prefix + action
	}
	stream := asciiLine(a.Stream)
	if stream == "" {
		stream = "unknown stream"
	}
	room := MaxSubjectLength - len(prefix) - len(": ") - len(action)
	s := prefix + shorten(stream, max(room, 16)) + ": " + action
	if len(s) > MaxSubjectLength {
		s = s[:MaxSubjectLength-3] + "..."
	}
	return s
}

// subjectAction says in a few words what happened.
func subjectAction(a policy.Alert) string {
	d := a.Decision
	move := fmt.Sprintf("%d -> %d shards", d.Current, d.Target)
	switch a.Kind {
	case policy.AlertScaledUp:
		return "scaled up " + move
	case policy.AlertScaledDown:
		return "scaled down " + move
	case policy.AlertWouldScale:
		return "would scale " + direction(d) + move
	case policy.AlertScaleFailed:
		return "scale " + direction(d) + move + " failed"
	case policy.AlertThrottling:
		if d.Current > 0 {
			return fmt.Sprintf("throttling seen at %d shards", d.Current)
		}
		return "throttling seen"
	case policy.AlertQuotaExhausted:
		return "scale-up blocked, UpdateShardCount quota spent"
	case policy.AlertAtMaxShards:
		if d.Current > 0 {
			return fmt.Sprintf("held at max shards (%d)", d.Current)
		}
		return "held at max shards"
	case policy.AlertAWSError:
		return "AWS calls failed"
	case AlertConfigRejected:
		return "configuration rejected, the old one stays in force"
	case policy.AlertPaused:
		return "paused, left at " + fmt.Sprintf("%d shards", d.Current)
	}
	if s := a.Shard; s != nil {
		// Subjects name shards by number (#12 for shardId-000000000012);
		// bodies give the whole id.
		one, two := shortShard(s.Action.ShardID), shortShard(s.Action.Adjacent)
		switch a.Kind {
		case policy.AlertShardSplit:
			return fmt.Sprintf("split shard %s (%s)", one, move)
		case policy.AlertShardsMerged:
			return fmt.Sprintf("merged shards %s and %s (%s)", one, two, move)
		case policy.AlertWouldSplitShard:
			return fmt.Sprintf("would split shard %s (%s)", one, move)
		case policy.AlertWouldMergeShards:
			return fmt.Sprintf("would merge shards %s and %s (%s)", one, two, move)
		case policy.AlertShardChangeFailed:
			if s.Action.Kind == policy.ShardMerge {
				return fmt.Sprintf("merge of shards %s and %s failed", one, two)
			}
			return fmt.Sprintf("split of shard %s failed", one)
		case policy.AlertHotPartitionKey:
			return "hot partition key in shard " + one
		}
	}
	return "event " + string(a.Kind)
}

// shortShard is "#12" for "shardId-000000000012", other ids as they are.
func shortShard(id string) string {
	num, ok := strings.CutPrefix(id, "shardId-")
	if !ok || num == "" || strings.Trim(num, "0123456789") != "" {
		return id
	}
	if n := strings.TrimLeft(num, "0"); n != "" {
		return "#" + n
	}
	return "#0"
}

// shardChange names a split or merge: "split of shard X".
func shardChange(a policy.ShardAction) string {
	if a.Kind == policy.ShardMerge {
		return fmt.Sprintf("merge of shards %s and %s", a.ShardID, a.Adjacent)
	}
	return "split of shard " + a.ShardID
}

func direction(d policy.Decision) string {
	switch d.Direction {
	case policy.DirectionUp, policy.DirectionDown:
		return string(d.Direction) + " "
	}
	return ""
}

// Body is the alert as a person reads it in an email: what happened, the
// stream's shards before and after, the reason, the utilisation per
// dimension with the raw figures of the minute that triggered it, the calls
// left in the rolling 24 h, the error for failures and what happens next.
func Body(a policy.Alert) string {
	d := a.Decision
	stream := printable(a.Stream)
	if stream == "" {
		stream = "unknown stream"
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }

	line("%s", headline(a, stream))
	line("")
	if Scope(a.Kind) == ScopeDaemon {
		line("About:      the daemon itself, not a stream")
	} else {
		line("Stream:     %s", stream)
	}
	line("Event:      %s", printable(string(a.Kind)))
	if !a.At.IsZero() {
		line("Time:       %s", a.At.UTC().Format(time.RFC3339))
	}
	hasDecision := d.Current > 0 || d.Reason != ""
	if hasDecision {
		line("Shards:     %s", shardsLine(a))
	}
	if a.DryRun {
		line("Dry run:    yes, the daemon changes nothing")
	}
	if d.Reason != "" {
		line("")
		line("Why:")
		line("  %s", printable(d.Reason))
	}
	if hasDecision {
		line("")
		writeLoad(&b, d)
		line("")
		calls := d.CallsLeft
		note := ""
		if a.Kind == policy.AlertScaledUp || a.Kind == policy.AlertScaledDown {
			calls, note = max(calls-1, 0), " (after this call)"
		}
		line("UpdateShardCount calls left in the rolling 24 h: %d of %d%s", calls, policy.MaxUpdateCalls, note)
	}
	if a.Shard != nil {
		line("")
		writeShards(&b, a.Shard)
	}
	if a.Err != "" {
		line("")
		line("Error:")
		line("  %s", printable(a.Err))
	}
	if a.Next != "" {
		line("")
		line("What happens next:")
		line("  %s", printable(a.Next))
	}
	line("")
	line("-- kinesis-autoscaler")
	return b.String()
}

func headline(a policy.Alert, stream string) string {
	d := a.Decision
	switch a.Kind {
	case policy.AlertScaledUp, policy.AlertScaledDown:
		return fmt.Sprintf("Stream %s is being scaled %s from %d to %d shards.", stream, d.Direction, d.Current, d.Target)
	case policy.AlertWouldScale:
		return fmt.Sprintf("Dry run: stream %s would be scaled %sfrom %d to %d shards. Nothing was changed.", stream, direction(d), d.Current, d.Target)
	case policy.AlertScaleFailed:
		return fmt.Sprintf("Scaling stream %s %sfrom %d to %d shards failed.", stream, direction(d), d.Current, d.Target)
	case policy.AlertThrottling:
		return fmt.Sprintf("Stream %s refused writes (throttling) at %d shards.", stream, d.Current)
	case policy.AlertQuotaExhausted:
		return fmt.Sprintf("Stream %s needs more shards, but its UpdateShardCount calls of the last 24 h are spent.", stream)
	case policy.AlertAtMaxShards:
		return fmt.Sprintf("Stream %s is held at its max_shards of %d while its load is above the scale-up threshold.", stream, d.Current)
	case policy.AlertAWSError:
		return fmt.Sprintf("AWS calls for %s failed.", stream)
	case AlertConfigRejected:
		return "A reloaded configuration was rejected; the configuration in force before stays in force."
	case policy.AlertPaused:
		return fmt.Sprintf("Stream %s is paused by an operator: the daemon would scale it %sfrom %d to %d shards and leaves it as it is.",
			stream, direction(d), d.Current, d.Target)
	}
	if s := a.Shard; s != nil {
		act := s.Action
		switch a.Kind {
		case policy.AlertShardSplit:
			return fmt.Sprintf("Shard %s of stream %s, %s of the hash-key space, is being split in two.", act.ShardID, stream, share(act.Range))
		case policy.AlertShardsMerged:
			return fmt.Sprintf("Shards %s and %s of stream %s are being merged into one shard of %s of the hash-key space.",
				act.ShardID, act.Adjacent, stream, share(act.Range))
		case policy.AlertWouldSplitShard:
			return fmt.Sprintf("Dry run: shard %s of stream %s, %s of the hash-key space, would be split in two. Nothing was changed.",
				act.ShardID, stream, share(act.Range))
		case policy.AlertWouldMergeShards:
			return fmt.Sprintf("Dry run: shards %s and %s of stream %s would be merged. Nothing was changed.", act.ShardID, act.Adjacent, stream)
		case policy.AlertShardChangeFailed:
			return fmt.Sprintf("The %s of stream %s failed.", shardChange(act), stream)
		case policy.AlertHotPartitionKey:
			return fmt.Sprintf("Shard %s of stream %s, %s of the hash-key space, carries one hot partition key: no split can divide its load.",
				act.ShardID, stream, share(act.Range))
		}
	}
	return fmt.Sprintf("Event %s for stream %s.", printable(string(a.Kind)), stream)
}

// share writes a range's share of the hash-key space.
func share(r policy.KeyRange) string {
	w := r.Width() * 100
	if w >= 1 {
		return fmt.Sprintf("%.1f%%", w)
	}
	return fmt.Sprintf("%.3g%%", w)
}

// writeShards writes the shard-level part of an alert: the action's shard,
// where a split divides it, and the busiest shards' latest minute.
func writeShards(b *strings.Builder, s *policy.ShardAlert) {
	act := s.Action
	fmt.Fprintf(b, "Shard %s owns %s of the hash-key space, from %.6f to %.6f.\n", act.ShardID, share(act.Range), act.Range.Lo, act.Range.Hi)
	switch act.Kind {
	case policy.ShardSplit:
		fmt.Fprintf(b, "  split at hash key %s (%.6f of the key space), at %s of a shard's capacity\n",
			policy.HashKey(act.At), act.At, pct(act.Utilisation))
	case policy.ShardMerge:
		fmt.Fprintf(b, "  merged with %s; together at most %s of one shard's capacity\n", act.Adjacent, pct(act.Utilisation))
	case policy.ShardHotKey:
		fmt.Fprintf(b, "  it kept %s of its parent's load after a split, at %s of a shard's capacity\n", pct(act.Share), pct(act.Utilisation))
	}
	if len(s.Loads) > 0 {
		fmt.Fprintln(b, "Shards by load, latest minute of enhanced shard-level metrics:")
		fmt.Fprintf(b, "  %-22s %9s %7s %11s %12s %10s\n", "SHARD", "KEY SPACE", "LOAD", "RECORDS/S", "BYTES/S", "THROTTLED")
		for _, l := range s.Loads {
			if !l.Known {
				fmt.Fprintf(b, "  %-22s %9s %7s %11s %12s %10s\n", printable(l.ShardID), share(l.Range), "-", "no data", "-", "-")
				continue
			}
			m := l.Minute
			fmt.Fprintf(b, "  %-22s %9s %7s %11.0f %12s %10.0f\n", printable(l.ShardID), share(l.Range), pct(l.Utilisation()),
				m.IncomingRecords/60, byteRate(m.IncomingBytes/60), m.WriteThrottled)
		}
	}
	if s.CallsPerDay > 0 {
		fmt.Fprintf(b, "SplitShard and MergeShards calls left in the rolling 24 h: %d of %d\n", s.CallsLeft, s.CallsPerDay)
	}
}

func shardsLine(a policy.Alert) string {
	d := a.Decision
	s := fmt.Sprintf("%d", d.Current)
	switch {
	case d.Target != d.Current && a.Kind == policy.AlertScaleFailed:
		s += fmt.Sprintf(" (%d asked for)", d.Target)
	case d.Target != d.Current:
		s += fmt.Sprintf(" -> %d", d.Target)
	default:
		s += " (unchanged)"
	}
	if d.Desired != d.Target && d.Desired > 0 {
		s += fmt.Sprintf("; the load calls for %d", d.Desired)
	}
	return s
}

// writeLoad writes the utilisation per dimension with the raw figures.
func writeLoad(b *strings.Builder, d policy.Decision) {
	m := d.Trigger
	if m == nil {
		fmt.Fprintln(b, "Load: no metrics known for the stream.")
		return
	}
	u := d.Utilisation
	fmt.Fprintf(b, "Load in the minute from %s, against %d shards:\n", m.Start.UTC().Format(time.RFC3339), d.Current)
	fmt.Fprintf(b, "  write bytes    %5s  IncomingBytes %.0f (%s)\n", pct(u.WriteBytes), m.IncomingBytes, byteRate(m.IncomingBytes/60))
	fmt.Fprintf(b, "  write records  %5s  IncomingRecords %.0f (%.0f/s)\n", pct(u.WriteRecords), m.IncomingRecords, m.IncomingRecords/60)
	fmt.Fprintf(b, "  read bytes     %5s  GetRecords.Bytes %.0f (%s)\n", pct(u.ReadBytes), m.ReadBytes, byteRate(m.ReadBytes/60))
	fmt.Fprintf(b, "  throttled writes: %.0f records (WriteProvisionedThroughputExceeded)\n", m.WriteThrottled)
	if m.ReadThrottled > 0 {
		fmt.Fprintf(b, "  throttled reads: %.0f (ReadProvisionedThroughputExceeded)\n", m.ReadThrottled)
	}
	if m.HasIteratorAge {
		fmt.Fprintf(b, "  iterator age: %s (GetRecords.IteratorAgeMilliseconds, maximum)\n", m.IteratorAge.Round(time.Millisecond))
	} else {
		fmt.Fprintln(b, "  iterator age: no data (no consumer read in the minute)")
	}
	if m.Shards > 0 && m.Shards != d.Current {
		fmt.Fprintf(b, "  the stream had %d shards during that minute\n", m.Shards)
	}
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

func byteRate(perSecond float64) string {
	switch {
	case perSecond >= 1<<20:
		return fmt.Sprintf("%.2f MiB/s", perSecond/(1<<20))
	case perSecond >= 1<<10:
		return fmt.Sprintf("%.1f KiB/s", perSecond/(1<<10))
	default:
		return fmt.Sprintf("%.0f B/s", perSecond)
	}
}

// asciiLine keeps printable ASCII, turns any white space into one space and
// anything else into '?', and trims the ends.
func asciiLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case r < 0x20 || r > 0x7e:
			r = '?'
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// printable keeps text on one line: control characters become spaces.
func printable(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s))
}

// shorten cuts an ASCII string to n characters, keeping its start and end.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	keep := n - 3
	head := (keep + 1) / 2
	return s[:head] + "..." + s[len(s)-(keep-head):]
}
