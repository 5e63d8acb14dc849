package sim

import (
	"math"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// HoursPerMonth is the month AWS's prices are per (730 hours).
const HoursPerMonth = 730

// ksuRequestsPerCheck are the GetMetricStatistics requests of one of the
// Scaling Utility's checks with its sample configuration, which scales on PUT
// and GET: one request per metric of KinesisOperationType.getMetricsToFetch
// (PutRecord.Bytes, PutRecords.Bytes, PutRecord.Success, PutRecords.Records;
// GetRecords.Bytes, GetRecords.Success).
const ksuRequestsPerCheck = 6

// alarmMetrics are the metrics of the alarm sample's two alarms, each billed
// as an alarm metric: the scale-up alarm's IncomingBytes and IncomingRecords,
// the scale-down alarm's the same and GetRecords.IteratorAgeMilliseconds.
const alarmMetrics = 5

// leaseRenewEvery is how often each replica writes the lease: a quarter of
// the default lease.duration of 20 s.
const leaseRenewEvery = 5 * time.Second

// Bill is what an autoscaler's own trigger cost over a replay, beside the
// stream it scales.
type Bill struct {
	// MetricsRequested are GetMetricData metrics (the daemon's stream and
	// shard-level reads).
	MetricsRequested int64
	// CloudWatchRequests are GetMetricStatistics requests (the utility's).
	CloudWatchRequests int64
	// AlarmMetricMonths are alarm metrics kept for a month (the alarm
	// sample's); EnhancedMetricMonths shard-level metrics billed as custom
	// metrics (the shard policy's).
	AlarmMetricMonths, EnhancedMetricMonths float64
	// LeaseWrites are the lease's DynamoDB writes billed to this stream.
	LeaseWrites float64
	// Publishes are SNS publishes (alerts); Invocations Lambda requests.
	Publishes, Invocations int64
}

// Cost is the bill in dollars at prices p.
func (b Bill) Cost(p Prices) float64 {
	return float64(b.MetricsRequested)/1000*p.MetricsThousand +
		float64(b.CloudWatchRequests)/1000*p.RequestsThousand +
		b.AlarmMetricMonths*p.AlarmMetricMonth + b.EnhancedMetricMonths*p.CustomMetricMonth +
		b.LeaseWrites/1e6*p.DynamoDBWriteMillion +
		float64(b.Publishes)/1e6*p.SNSMillion + float64(b.Invocations)/1e6*p.LambdaMillion
}

// leaseWrites is the lease's writes over hours billed to one stream.
func (m Model) leaseWrites(hours float64) float64 {
	if m.LeaseReplicas == 0 {
		return 0
	}
	writes := float64(m.LeaseReplicas) * hours * 3600 / leaseRenewEvery.Seconds()
	return writes / float64(max(m.LeaseStreams, 1))
}

// traffic is what the stream accepted over a replay, in the units AWS bills
// on-demand mode and enhanced fan-out by.
type traffic struct {
	// ingestGiB is the data ingested, each record rounded up to a whole KiB;
	// readGiB the same records read once, at their own size.
	ingestGiB, readGiB float64
}

func (t *traffic) add(records int64, size float64) {
	t.ingestGiB += float64(records) * math.Max(1, math.Ceil(size/1024-1e-9)) / (1 << 20)
	t.readGiB += float64(records) * size / (1 << 30)
}

// onDemandCost is on-demand Standard's bill for traffic over hours: the
// stream-hours, data in, every shared-throughput consumer's and enhanced
// fan-out consumer's reads.
func (m Model) onDemandCost(t traffic, hours float64) float64 {
	p := m.Prices
	return hours*p.OnDemandStreamHour + t.ingestGiB*p.OnDemandGB +
		t.readGiB*(float64(m.Consumers)*p.OnDemandReadGB+float64(m.EFOConsumers)*p.OnDemandEFOGB)
}

// advantageCost is On-demand Advantage's bill for the same: no per-stream
// charge, lower per-GB prices.
func (m Model) advantageCost(t traffic) float64 {
	p := m.Prices
	return t.ingestGiB*p.AdvantageGB + t.readGiB*(float64(m.Consumers)*p.AdvantageReadGB+float64(m.EFOConsumers)*p.AdvantageEFOGB)
}

// efoCost is provisioned mode's enhanced fan-out bill: every consumer pays
// per shard-hour of the stream and per GB it reads.
func (m Model) efoCost(shardHours float64, t traffic) float64 {
	n := float64(m.EFOConsumers)
	return n * (shardHours*m.Prices.EFOShardHour + t.readGiB*m.Prices.EFOGB)
}

// enhancedMetricMonths are the metric-months of the shard-level metrics of
// shardHours of shards: policy.MetricsPerShard custom metrics per open
// shard, billed by the hour.
func enhancedMetricMonths(shardHours float64) float64 {
	return shardHours * policy.MetricsPerShard / HoursPerMonth
}

// perStreamMonth is a cost over hours as a cost per stream-month.
func perStreamMonth(cost, hours float64) float64 {
	if hours <= 0 {
		return 0
	}
	return cost / hours * HoursPerMonth
}
