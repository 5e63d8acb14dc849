package sim

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// Model holds the simulation's parameters.
type Model struct {
	// PeakShards scales the trace so that its busiest minute needs exactly
	// this many shards at 100 % utilisation; 0 replays it as it is.
	PeakShards int
	// RecordBytes is the size of a record where the trace gives no bytes.
	RecordBytes int64
	// ProducerTTL is how long the producer keeps retrying a refused record
	// before dropping it (the KPL's RecordTtl).
	ProducerTTL time.Duration
	// MetricDelay is how long after a minute ends CloudWatch shows it.
	MetricDelay time.Duration
	// ReshardTime is how long after the call a reshard takes effect.
	ReshardTime time.Duration
	// Prices turn shard-hours and records into dollars.
	Prices Prices
	// Keys is how partition keys spread over the hash-key space; the zero
	// value is evenly.
	Keys KeySkew
	// Consumers is how many applications read every record once with
	// shared throughput (GetRecords); on-demand mode bills their reads per
	// GB, provisioned mode does not.
	Consumers int
	// EFOConsumers is how many enhanced fan-out consumers read every record:
	// billed per consumer-shard-hour and per GB in provisioned mode, per GB
	// in on-demand mode.
	EFOConsumers int
	// LeaseReplicas is how many replicas of the daemon share a DynamoDB lease
	// (0: no lease table, the default configuration); the lease's writes are
	// billed to the LeaseStreams streams the daemon manages, shared evenly.
	LeaseReplicas, LeaseStreams int
	// PollEveryCycle makes the daemon read its stream every cycle, as it did
	// before the poll schedule (controller.Options.PollEveryCycle), to
	// compare the two.
	PollEveryCycle bool
	// WarmStart makes the stream have run before the trace starts: its
	// first day, repeated, served in full, as the on-demand rows assume of
	// their 30-day peak. The daemon's warm-up reads it from CloudWatch
	// (policy.WarmUpSpan), as it reads a real stream's history when it
	// starts on a stream that exists. Off, every run starts cold: no policy
	// has seen the stream's first burst before it comes.
	WarmStart bool
}

// Prices are AWS list prices; DefaultPrices are us-east-1's. docs/costs.md
// says where each comes from and which could not be checked.
type Prices struct {
	// ShardHour is the provisioned price of one shard for one hour.
	ShardHour float64
	// PutMillion is the provisioned price of a million 25 KB PUT payload
	// units (a record of up to 25 KB is one unit).
	PutMillion float64
	// OnDemandStreamHour is the on-demand price of one stream for one hour.
	OnDemandStreamHour float64
	// OnDemandGB is the on-demand price of one GB (GiB) ingested, each record
	// rounded up to a whole KiB.
	OnDemandGB float64
	// OnDemandReadGB is the on-demand price of one GB read by a
	// shared-throughput consumer; OnDemandEFOGB by an enhanced fan-out one.
	OnDemandReadGB, OnDemandEFOGB float64
	// AdvantageGB, AdvantageReadGB and AdvantageEFOGB are On-demand
	// Advantage's prices per GB ingested, read and read by enhanced fan-out
	// (no per-stream charge).
	AdvantageGB, AdvantageReadGB, AdvantageEFOGB float64
	// EFOShardHour and EFOGB are provisioned mode's enhanced fan-out prices:
	// per consumer-shard-hour and per GB read.
	EFOShardHour, EFOGB float64
	// MetricsThousand is CloudWatch GetMetricData's price per 1,000 metrics
	// requested; RequestsThousand the price per 1,000 other API requests
	// (GetMetricStatistics).
	MetricsThousand, RequestsThousand float64
	// CustomMetricMonth is the price of one custom metric for a month, which
	// each enhanced shard-level metric of each shard is billed as.
	CustomMetricMonth float64
	// AlarmMetricMonth is the price of one standard-resolution alarm metric
	// for a month.
	AlarmMetricMonth float64
	// DynamoDBWriteMillion is DynamoDB on-demand's price per million write
	// request units (the lease); SNSMillion SNS's per million publishes;
	// LambdaMillion Lambda's per million requests.
	DynamoDBWriteMillion, SNSMillion, LambdaMillion float64
}

// DefaultPrices are the us-east-1 list prices.
var DefaultPrices = Prices{
	ShardHour: 0.015, PutMillion: 0.014, OnDemandStreamHour: 0.04, OnDemandGB: 0.08,
	OnDemandReadGB: 0.04, OnDemandEFOGB: 0.05,
	AdvantageGB: 0.032, AdvantageReadGB: 0.016, AdvantageEFOGB: 0.016,
	EFOShardHour: 0.015, EFOGB: 0.013,
	MetricsThousand: 0.01, RequestsThousand: 0.01, CustomMetricMonth: 0.30, AlarmMetricMonth: 0.10,
	DynamoDBWriteMillion: 0.625, SNSMillion: 0.50, LambdaMillion: 0.20,
}

// DefaultModel returns the model with the documented defaults: records of
// 1 KiB where the trace has no bytes, one consumer, the KPL's 30 s record
// TTL, metrics 1 minute late (docs/simulation.md says why), reshards taking
// 3 minutes, us-east-1 prices.
func DefaultModel() Model {
	return Model{
		RecordBytes: 1024,
		Consumers:   1,
		ProducerTTL: 30 * time.Second,
		MetricDelay: time.Minute,
		ReshardTime: 3 * time.Minute,
		Prices:      DefaultPrices,
	}
}

// Validate reports every problem with the model at once.
func (m Model) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(m.PeakShards >= 0 && m.PeakShards <= MaxPeakShards, "peak shards %d: must be 0 (trace as it is) to %d", m.PeakShards, MaxPeakShards)
	check(m.RecordBytes >= 1 && m.RecordBytes <= MaxRecordBytes, "record bytes %d: must be 1 to 1048576", m.RecordBytes)
	check(m.ProducerTTL >= time.Second && m.ProducerTTL <= 24*time.Hour, "producer TTL %s: must be 1s to 24h", m.ProducerTTL)
	check(m.MetricDelay >= 0 && m.MetricDelay <= time.Hour, "metric delay %s: must be 0 to 1h", m.MetricDelay)
	check(m.ReshardTime >= time.Second && m.ReshardTime <= 24*time.Hour, "reshard time %s: must be 1s to 24h", m.ReshardTime)
	check(m.Consumers >= 0 && m.Consumers <= 1000, "consumers %d: must be 0 to 1000", m.Consumers)
	check(m.EFOConsumers >= 0 && m.EFOConsumers <= 50, "enhanced fan-out consumers %d: must be 0 to 50 (AWS's most per stream)", m.EFOConsumers)
	check(m.LeaseReplicas >= 0 && m.LeaseReplicas <= 100, "lease replicas %d: must be 0 to 100", m.LeaseReplicas)
	check(m.LeaseStreams >= 0 && m.LeaseStreams <= 1_000_000, "lease streams %d: must be 0 (one) to 1000000", m.LeaseStreams)
	if err := m.Keys.Validate(); err != nil {
		errs = append(errs, err)
	}
	p := m.Prices
	for _, v := range []struct {
		name string
		v    float64
	}{{"shard-hour price", p.ShardHour}, {"PUT payload unit price", p.PutMillion},
		{"on-demand stream-hour price", p.OnDemandStreamHour}, {"on-demand GB price", p.OnDemandGB},
		{"on-demand read GB price", p.OnDemandReadGB}, {"on-demand enhanced fan-out GB price", p.OnDemandEFOGB},
		{"On-demand Advantage GB price", p.AdvantageGB}, {"On-demand Advantage read GB price", p.AdvantageReadGB},
		{"On-demand Advantage enhanced fan-out GB price", p.AdvantageEFOGB},
		{"enhanced fan-out consumer-shard-hour price", p.EFOShardHour}, {"enhanced fan-out GB price", p.EFOGB},
		{"GetMetricData price per 1,000 metrics", p.MetricsThousand}, {"CloudWatch price per 1,000 requests", p.RequestsThousand},
		{"custom metric-month price", p.CustomMetricMonth}, {"alarm metric-month price", p.AlarmMetricMonth},
		{"DynamoDB write price", p.DynamoDBWriteMillion}, {"SNS publish price", p.SNSMillion}, {"Lambda request price", p.LambdaMillion}} {
		check(v.v >= 0 && !math.IsInf(v.v, 0) && !math.IsNaN(v.v), "%s %v: must be a non-negative number", v.name, v.v)
	}
	return errors.Join(errs...)
}

// load is a trace prepared for simulation: scaled, with a size per record and
// the least shard count of every minute.
type load struct {
	records []int64   // records offered per minute
	size    []float64 // bytes per record per minute
	needs   []int     // least uniform shard count carrying each minute
	// scale is the factor applied to the trace's counts.
	scale float64
	peak  int // max of needs
	// capped counts minutes whose records averaged more than the largest
	// record Kinesis accepts, capped at it.
	capped int
}

// prepare scales the trace and works out each minute's need.
//
// With PeakShards N the factor f is the largest for which every minute fits
// N shards second by second: a minute of R records of size s puts at most
// ceil(R/60) records in a second, which N shards carry when that is at most
// K = min(1000 N, floor(N MiB / s)); so f = min over minutes of 60 K / R,
// and the busiest minute then needs exactly N shards.
func prepare(t Trace, m Model) (load, error) {
	if err := t.Validate(); err != nil {
		return load{}, err
	}
	n := len(t.Minutes)
	l := load{records: make([]int64, n), size: make([]float64, n), needs: make([]int, n), scale: 1}
	for i, tm := range t.Minutes {
		l.size[i] = float64(m.RecordBytes)
		if tm.HasBytes && tm.Records > 0 {
			l.size[i] = float64(tm.Bytes) / float64(tm.Records)
		}
		if l.size[i] > MaxRecordBytes {
			l.size[i] = MaxRecordBytes
			l.capped++
		}
	}
	if m.PeakShards > 0 {
		f := math.Inf(1)
		for i, tm := range t.Minutes {
			if tm.Records > 0 {
				f = math.Min(f, 60*float64(perSecondLimit(m.PeakShards, l.size[i]))/float64(tm.Records))
			}
		}
		if math.IsInf(f, 1) {
			return load{}, fmt.Errorf("trace %s has no records: it cannot be scaled to a peak of %d shards", t.Name, m.PeakShards)
		}
		l.scale = f
	}
	for i, tm := range t.Minutes {
		r := tm.Records
		if m.PeakShards > 0 {
			k := perSecondLimit(m.PeakShards, l.size[i])
			r = int64(math.Floor(float64(tm.Records)*l.scale + 1e-6))
			r = min(r, 60*k)
		}
		l.records[i] = r
		l.needs[i] = needOf(r, l.size[i])
		if l.needs[i] > MaxPeakShards {
			e := t.where(i)
			e.Reason = fmt.Sprintf("the minute needs %d shards, more than %d, the most a simulation takes "+
				"(scale the trace with --peak-shards)", l.needs[i], MaxPeakShards)
			return load{}, e
		}
		l.peak = max(l.peak, l.needs[i])
	}
	return l, nil
}

// perSecondLimit is how many records of size bytes n shards take per second.
func perSecondLimit(n int, size float64) int64 {
	k := int64(n) * policy.ShardWriteRecordsPerSecond
	if size > 0 {
		k = min(k, int64(math.Floor(float64(n)*policy.ShardWriteBytesPerSecond/size+1e-9)))
	}
	return k
}

// needOf is the least number of uniform shards that carries a minute of r
// records of size bytes with no record refused: its busiest second holds
// ceil(r/60) records.
func needOf(r int64, size float64) int {
	peak := (r + 59) / 60
	n := (peak + policy.ShardWriteRecordsPerSecond - 1) / policy.ShardWriteRecordsPerSecond
	if size > 0 {
		b := int64(math.Ceil(float64(peak)*size/policy.ShardWriteBytesPerSecond - 1e-9))
		n = max(n, b)
	}
	return int(max(n, 1))
}

// secondRecords is how many of a minute's r records fall in its second s.
func secondRecords(r int64, s int) int64 {
	return r*int64(s+1)/60 - r*int64(s)/60
}

// rateNeed is the minute's load in shards (average rate over the minute
// against one shard's capacity), for charts and the policies' first choice.
func rateNeed(r int64, size float64) float64 {
	rec := float64(r) / 60 / policy.ShardWriteRecordsPerSecond
	byt := float64(r) * size / 60 / policy.ShardWriteBytesPerSecond
	return math.Max(rec, byt)
}
