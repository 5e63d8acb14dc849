package policy

// The shard-level state a daemon keeps with a stream across restarts is
// small and bounded: the hot-key ranges (at most MaxHotKeys), the divided
// ranges (at most MaxDivided) and the SplitShard/MergeShards call times of
// the rolling 24 h (at most MaxCallsPerDay); pkg/stream keeps them in the
// stream's tags (shardhistory.go), each under 256 characters. The rest of
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
