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
}
