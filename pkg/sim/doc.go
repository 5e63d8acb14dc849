// Package sim replays a traffic trace through the autoscaler's own controller
// and policies, against a simulated Kinesis stream, a simulated CloudWatch and
// a simulated clock that satisfy the controller's interfaces, and reports what
// each policy cost and what it lost.
//
// # The model
//
// Time runs in 1-second steps. A trace gives records (and optionally bytes)
// per minute; a minute's records are spread as evenly as whole records allow
// over its 60 seconds, every record of the minute having the minute's average
// size.
//
// The stream is a list of open shards in hash-key order, each owning a share
// of the key space. Partition keys are spread evenly, so a shard receives its
// share of every second's records and accepts at most 1,000 records and 1 MiB
// per second. UpdateShardCount leaves N shards of 1/N each; SplitShard halves
// one shard; MergeShards joins two adjacent ones, so a stream resharded one
// shard at a time is uneven and its widest shards throttle first. Shards of
// equal width and equal backlog behave identically and are simulated as one
// group, so a second costs a few operations however many shards are open.
//
// What a shard refuses, the producer retries in the following seconds, oldest
// first, before that second's new records. A record is offered at most
// ProducerTTL seconds in a row (its first second included); a record still
// not accepted then is lost. A record refused at least once counts as
// throttled, once. When a reshard takes effect, the waiting records move to
// the new shards that own their keys.
//
// Partition keys may be skewed (Model.Keys): a fraction of the records on a
// slice of the key space starting at HotspotStart (many keys of one busy
// tenant), a fraction on the single point HotKeyAt (one hot key), the rest
// evenly. A shard then receives the key-space mass it owns, shards are
// grouped by width and mass, and with even keys every figure is what it was
// before skew existed. For the shard policy the stream also keeps each
// shard's accepted, refused and throttled records per minute, which a
// per-shard CloudWatch view (ShardCloudWatch) shows MetricDelay later, as
// enhanced shard-level monitoring does. The stream implements the
// controller's ShardStreams and ShardCloudWatch its ShardLoadReader, so
// that the shard policy is the daemon's controller with shard-level scaling
// on: the simulator keeps no shard-level rule of its own.
//
// CloudWatch publishes each minute's accepted records and bytes and the
// records refused (WriteProvisionedThroughputExceeded, which counts every
// refused attempt) as 1-minute Sums, MetricDelay after the minute ends.
//
// UpdateShardCount obeys AWS's rules: the target is at most double and at
// least half the open shard count, at most 10 calls succeed per stream in any
// rolling 24 hours, and a stream that is UPDATING refuses every change. It
// answers with the policy package's sentinel errors, as the AWS adapter does.
// SplitShard and MergeShards are not under the daily quota but also take the
// stream through UPDATING. Every change takes effect ReshardTime after the
// call; until then the old shards carry the load.
//
// The controller runs a cycle every 60 s of simulated time, 30 s into each
// minute (the daemon's ticker is not aligned to minutes).
//
// # References
//
// Oracle is the sum over minutes of the least shard count that carries the
// minute (no delay, no AWS limits): no policy goes below it without
// throttling. Hindsight is the least shard-minutes of a plan that knows the
// whole trace and changes the count only with UpdateShardCount calls within
// AWS's rules; see Hindsight for how it is computed and how exact it is.
package sim
