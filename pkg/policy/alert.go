package policy

import "time"

// AlertKind names what an alert is about. Its value is the SNS message
// attribute `event`, so subscription filters can select on it.
type AlertKind string

// The alerts the daemon sends.
const (
	// AlertScaledUp and AlertScaledDown report an UpdateShardCount call made.
	AlertScaledUp   AlertKind = "scaled_up"
	AlertScaledDown AlertKind = "scaled_down"
	// AlertWouldScale reports what a dry run would have done.
	AlertWouldScale AlertKind = "would_scale"
	// AlertScaleFailed reports an UpdateShardCount call that AWS refused or
	// that failed.
	AlertScaleFailed AlertKind = "scale_failed"
	// AlertThrottling reports writes refused by the stream.
	AlertThrottling AlertKind = "throttling"
	// AlertQuotaExhausted reports that a scale-up was wanted but the rolling
	// UpdateShardCount quota is spent.
	AlertQuotaExhausted AlertKind = "quota_exhausted"
	// AlertAtMaxShards reports a stream held at max_shards while over the
	// scale-up threshold.
	AlertAtMaxShards AlertKind = "at_max_shards"
	// AlertAWSError reports that the stream could not be observed because AWS
	// calls failed.
	AlertAWSError AlertKind = "aws_error"

	// Shard-level alerts, for streams with shard-level scaling; their Alert
	// carries Shard.

	// AlertShardSplit reports a SplitShard call made, AlertShardsMerged a
	// MergeShards call made.
	AlertShardSplit   AlertKind = "shard_split"
	AlertShardsMerged AlertKind = "shards_merged"
	// AlertWouldSplitShard and AlertWouldMergeShards report what a dry run
	// would have done.
	AlertWouldSplitShard  AlertKind = "would_split_shard"
	AlertWouldMergeShards AlertKind = "would_merge_shards"
	// AlertShardChangeFailed reports a SplitShard or MergeShards call that
	// AWS refused or that failed.
	AlertShardChangeFailed AlertKind = "shard_change_failed"
	// AlertHotPartitionKey reports a shard whose load one partition key
	// carries: no split can divide it, and the daemon stops splitting it.
	AlertHotPartitionKey AlertKind = "hot_partition_key"
)

// Alert is one event worth telling people about.
type Alert struct {
	Kind     AlertKind
	Stream   string
	At       time.Time
	Decision Decision
	// DryRun is true when the daemon changes nothing.
	DryRun bool
	// Err is the error text for failures, empty otherwise.
	Err string
	// Next says in words what happens next.
	Next string
	// Shard is set on shard-level alerts.
	Shard *ShardAlert
}

// ShardAlert is what a shard-level alert tells: the action and the load of
// the stream's busiest open shards.
type ShardAlert struct {
	Action ShardAction
	// Loads are open shards' latest figures, busiest first; the alert's
	// shards come first.
	Loads []ShardLoad
	// CallsLeft is how many SplitShard and MergeShards calls the daily cap
	// leaves, CallsPerDay the cap.
	CallsLeft, CallsPerDay int
}

// ShardLoad is one open shard's latest known minute of enhanced shard-level
// metrics, for people: which shard, its share of the key space, how hot.
type ShardLoad struct {
	ShardID string
	Range   KeyRange
	// Minute is the newest minute with datapoints; Known is false when the
	// shard has none yet (a new shard).
	Minute ShardMinute
	Known  bool
}

// Utilisation is the minute's utilisation of one shard's capacity, 0 when
// not known.
func (l ShardLoad) Utilisation() float64 {
	if !l.Known {
		return 0
	}
	return l.Minute.Utilisation()
}
