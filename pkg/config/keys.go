package config

import (
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"

	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts the name of every environment variable that overrides a
// key: the key's path, upper-cased, with dots turned into underscores, follows
// it (KINESIS_AUTOSCALER_DEFAULTS_MAX_SHARDS overrides defaults.max_shards).
const EnvPrefix = "KINESIS_AUTOSCALER"

// MaxShardsLimit is the largest max_shards accepted.
const MaxShardsLimit = 100000

// kind is the type of a key's value.
type kind int

const (
	kindDuration kind = iota
	kindInt
	kindFloat
	kindBool
	kindString
)

// setting describes one key of a StreamSettings: the defaults block has them
// all, and each streams entry may override any of them.
type setting struct {
	name    string
	kind    kind
	def     any // built-in default, of the kind's Go type
	lo, hi  any // bounds of the kind's Go type; nil means unbounded
	loOpen  bool
	allowed string // allowed values, when bounds do not say it
	meaning string
	field   func(*StreamSettings) any // pointer to the field the key sets
	// tagMay is the way a stream's tag may move the setting from the
	// configuration's value: only the way that makes the daemon no quicker
	// to remove shards, no slower to add them (within max_shards) and no
	// freer with splits, merges and billed metrics.
	tagMay tagDirection
}

// tagDirection says how a tag may change a setting from the configuration's
// value: the file is the operator's ceiling and tags only narrow inside it.
type tagDirection int

const (
	// tagKeeps: a tag may only restate the configuration's value.
	tagKeeps tagDirection = iota
	// tagRaises: a tag may set the value or a higher one.
	tagRaises
	// tagLowers: a tag may set the value or a lower one.
	tagLowers
)

// settings lists the keys of StreamSettings in the order they are documented
// and printed.
var settings = []setting{
	{
		name: "min_shards", kind: kindInt, def: 1, lo: 1,
		meaning: "fewest shards the autoscaler sets",
		field:   func(s *StreamSettings) any { return &s.MinShards },
		tagMay:  tagRaises,
	},
	{
		name: "max_shards", kind: kindInt, def: 16, hi: MaxShardsLimit,
		meaning: "most shards the autoscaler sets; at least min_shards",
		field:   func(s *StreamSettings) any { return &s.MaxShards },
		tagMay:  tagKeeps,
	},
	{
		name: "scale_up_threshold", kind: kindFloat, def: 0.75, lo: 0.5, hi: 0.95,
		meaning: "scale up when utilisation (the busiest of write bytes, write records and read bytes, " +
			"as a fraction of the open shards' capacity) stays above this",
		field:  func(s *StreamSettings) any { return &s.ScaleUpThreshold },
		tagMay: tagLowers,
	},
	{
		name: "scale_down_threshold", kind: kindFloat, def: 0.25, lo: 0.05,
		meaning: "the low end of the utilisation band: shard_level streams merge shards that stay below it, and the simulator's threshold baselines scale down below it; the default policy scales down to what the stream's level and learned bursts need, whatever the utilisation (docs/policy.md), and reads a stream below it every cycle (docs/costs.md); must be below scale_up_threshold - 0.1",
		field:   func(s *StreamSettings) any { return &s.ScaleDownThreshold },
		tagMay:  tagLowers,
	},
	{
		name: "scale_up_after", kind: kindDuration, def: 2 * time.Minute, lo: time.Minute, hi: time.Hour,
		meaning: "how long utilisation must stay above scale_up_threshold before a scale-up",
		field:   func(s *StreamSettings) any { return &s.ScaleUpAfter },
		tagMay:  tagLowers,
	},
	{
		name: "scale_down_after", kind: kindDuration, def: 30 * time.Minute, lo: 5 * time.Minute, hi: 24 * time.Hour,
		meaning: "the window a scale-down is judged on: every minute of it known, fresh and unthrottled, consumers keeping up, and the new count carrying each of its minutes below scale_up_threshold",
		field:   func(s *StreamSettings) any { return &s.ScaleDownAfter },
		tagMay:  tagRaises,
	},
	{
		name: "cooldown_up", kind: kindDuration, def: 5 * time.Minute, lo: time.Duration(0), hi: 24 * time.Hour,
		meaning: "least time after any scaling action before a scale-up",
		field:   func(s *StreamSettings) any { return &s.CooldownUp },
		tagMay:  tagLowers,
	},
	{
		name: "cooldown_down", kind: kindDuration, def: time.Hour, lo: time.Duration(0), hi: 7 * 24 * time.Hour,
		meaning: "least time after any scaling action before a scale-down",
		field:   func(s *StreamSettings) any { return &s.CooldownDown },
		tagMay:  tagRaises,
	},
	{
		name: "max_iterator_age", kind: kindDuration, def: 5 * time.Minute, lo: time.Duration(0), loOpen: true,
		meaning: "no scale-down while the consumers' iterator age is above this",
		field:   func(s *StreamSettings) any { return &s.MaxIteratorAge },
		tagMay:  tagLowers,
	},
	{
		name: "headroom", kind: kindString, def: string(policy.HeadroomBalanced), allowed: policy.HeadroomNames(),
		meaning: "the trade-off between lost records and shards: how much margin the default policy keeps over the " +
			"bursts it has learned the stream makes (lossless 20 %, balanced 10 %, economy none) and over the most the " +
			"stream has needed (lossless 10 %); docs/policy.md gives what each did on the scenarios and the shared traces",
		field:  func(s *StreamSettings) any { return &s.Headroom },
		tagMay: tagKeeps,
	},
	{
		name: "shard_level", kind: kindBool, def: false, allowed: "true or false",
		meaning: "also split hot shards and merge cold neighbours one at a time (SplitShard, MergeShards), and report hot " +
			"partition keys; turns on enhanced shard-level metrics for the stream, which AWS bills (see Shard-level scaling)",
		field:  func(s *StreamSettings) any { return &s.ShardLevel },
		tagMay: tagLowers,
	},
	{
		name: "max_shard_changes_per_day", kind: kindInt, def: 48, lo: 1, hi: MaxShardChangesPerDay,
		meaning: "most SplitShard plus MergeShards calls in any rolling 24 h for a stream with shard_level; " +
			"each closes shards that consumers must drain",
		field:  func(s *StreamSettings) any { return &s.MaxShardChangesPerDay },
		tagMay: tagLowers,
	},
}

// MaxShardChangesPerDay is the largest max_shard_changes_per_day: the most
// calls the stream's tag of the shard-level history records.
const MaxShardChangesPerDay = 48

// key describes one scalar key of a Config.
type key struct {
	path    string // full path, e.g. "alerts.dedup_window"
	kind    kind
	def     any // built-in default, of the kind's Go type
	lo, hi  any // bounds of the kind's Go type; nil means unbounded
	loOpen  bool
	allowed string // allowed values, when bounds do not say it
	meaning string
	field   func(*Config) any // pointer to the field the key sets
	// applies, when set, says whether the key matters for c: a key of a
	// feature that is off is not checked.
	applies func(c *Config) bool
}

// env returns the name of the environment variable that overrides the key.
func (k key) env() string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(k.path, ".", "_"))
}

// Allowed values of the enumerated keys.
var (
	logFormats = []string{"json", "console"}
	logLevels  = []string{"debug", "info", "warn", "error"}
)

// keys lists every scalar key of a Config, in the order they are documented,
// decoded and printed; the defaults.* keys come from settings.
var keys = buildKeys()

func buildKeys() []key {
	ks := []key{
		{
			path: "aws.region", kind: kindString, def: "", allowed: "an AWS region, e.g. eu-west-1, or empty",
			meaning: "AWS region; empty uses the SDK's default chain (AWS_REGION, AWS_DEFAULT_REGION, profile)",
			field:   func(c *Config) any { return &c.AWS.Region },
		},
		{
			path: "aws.endpoints.kinesis", kind: kindString, def: "", allowed: "an http(s) URL, or empty",
			meaning: "Kinesis endpoint, e.g. http://localhost:4566 for LocalStack; empty uses AWS's",
			field:   func(c *Config) any { return &c.AWS.Endpoints.Kinesis },
		},
		{
			path: "aws.endpoints.cloudwatch", kind: kindString, def: "", allowed: "an http(s) URL, or empty",
			meaning: "CloudWatch endpoint; empty uses AWS's",
			field:   func(c *Config) any { return &c.AWS.Endpoints.CloudWatch },
		},
		{
			path: "aws.endpoints.sns", kind: kindString, def: "", allowed: "an http(s) URL, or empty",
			meaning: "SNS endpoint; empty uses AWS's",
			field:   func(c *Config) any { return &c.AWS.Endpoints.SNS },
		},
		{
			path: "aws.endpoints.dynamodb", kind: kindString, def: "", allowed: "an http(s) URL, or empty",
			meaning: "DynamoDB endpoint, for the lease table; empty uses AWS's",
			field:   func(c *Config) any { return &c.AWS.Endpoints.DynamoDB },
		},
		{
			path: "poll_interval", kind: kindDuration, def: time.Minute, lo: 10 * time.Second, hi: time.Hour,
			meaning: "how often every stream is evaluated",
			field:   func(c *Config) any { return &c.PollInterval },
		},
		{
			path: "dry_run", kind: kindBool, def: false, allowed: "true or false",
			meaning: "decide, log and alert, but never change a stream's shard count",
			field:   func(c *Config) any { return &c.DryRun },
		},
		{
			path: "log.format", kind: kindString, def: "json", allowed: strings.Join(logFormats, ", "),
			meaning: "log encoding (JSON suits CloudWatch Logs)",
			field:   func(c *Config) any { return &c.Log.Format },
		},
		{
			path: "log.level", kind: kindString, def: "info", allowed: strings.Join(logLevels, ", "),
			meaning: "least severe level that is logged",
			field:   func(c *Config) any { return &c.Log.Level },
		},
		{
			path: "log.only_acting", kind: kindBool, def: false, allowed: "true or false",
			meaning: "log at info only the cycles that act, would act (dry run), defer an action or meet an error, " +
				"and only the per-stream lines of streams that act; the rest at debug. The one summary line a cycle " +
				"is otherwise always logged (10,000 streams write 14 million per-stream lines a day without this)",
			field: func(c *Config) any { return &c.Log.OnlyActing },
		},
		{
			path: "alerts.sns_topic_arn", kind: kindString, def: "",
			allowed: "arn:aws:sns:REGION:ACCOUNT:NAME, or empty",
			meaning: "SNS topic that receives alerts; empty means alerts are only logged",
			field:   func(c *Config) any { return &c.Alerts.SNSTopicARN },
		},
		{
			path: "alerts.dedup_window", kind: kindDuration, def: time.Hour, lo: time.Minute, hi: 7 * 24 * time.Hour,
			meaning: "an alert identical to one already sent is not sent again within this window",
			field:   func(c *Config) any { return &c.Alerts.DedupWindow },
		},
		{
			path: "metrics.listen", kind: kindString, def: DefaultMetricsListen,
			allowed: "HOST:PORT (HOST may be empty for every interface), or empty",
			meaning: "address of the HTTP server for /metrics (Prometheus), /healthz and /readyz; " +
				"empty serves nothing; 0.0.0.0:9090 in a container",
			field: func(c *Config) any { return &c.Metrics.Listen },
		},
		{
			path: "metrics.emf", kind: kindBool, def: false, allowed: "true or false",
			meaning: "also log one line a cycle in CloudWatch's embedded metric format (namespace KinesisAutoscaler, " +
				"dimension Service = lease.name): CyclesCompleted, CycleDuration, ManagedStreams, Actions, Deferred, " +
				"StreamErrors, MetricsReadFailed, Leader, which CloudWatch Logs turns into metrics with no API call",
			field: func(c *Config) any { return &c.Metrics.EMF },
		},
		{
			path: "lease.table", kind: kindString, def: "",
			allowed: "a DynamoDB table name (3 to 255 of a-z A-Z 0-9 _ . -), or empty",
			meaning: "DynamoDB table (partition key lease_name, a string) of the lease that lets exactly one of several replicas act; " +
				"empty means no lease: this replica always acts",
			field: func(c *Config) any { return &c.Lease.Table },
		},
		{
			path: "lease.name", kind: kindString, def: "kinesis-autoscaler",
			allowed: "1 to 255 of a-z A-Z 0-9 _ . : / -",
			meaning: "key of the lease item; replicas with the same name share one lease",
			field:   func(c *Config) any { return &c.Lease.Name },
			applies: func(c *Config) bool { return c.Lease.Enabled() },
		},
		{
			path: "lease.duration", kind: kindDuration, def: 20 * time.Second, lo: 4 * time.Second, hi: 5 * time.Minute,
			meaning: "how long the lease lasts unless renewed: it is renewed every quarter of this, its holder " +
				"stops acting in the last quarter, and a standby takes over within this after its holder dies",
			field:   func(c *Config) any { return &c.Lease.Duration },
			applies: func(c *Config) bool { return c.Lease.Enabled() },
		},
		{
			path: "discover.tags", kind: kindString, def: "",
			allowed: "KEY=VALUE[,KEY=VALUE...], or empty",
			meaning: "manage every stream that carries all of these tags (e.g. autoscale=enabled), " +
				"besides the streams list; empty: no discovery by tag",
			field: func(c *Config) any { return &c.Discover.Tags },
		},
		{
			path: "discover.name_prefix", kind: kindString, def: "",
			allowed: "1 to 128 of a-z A-Z 0-9 _ . -, or empty",
			meaning: "manage every stream whose name starts with this, besides the streams list " +
				"(with discover.tags, a stream must match both); empty: no discovery by name",
			field: func(c *Config) any { return &c.Discover.NamePrefix },
		},
		{
			path: "discover.interval", kind: kindDuration, def: 5 * time.Minute, lo: time.Minute, hi: 24 * time.Hour,
			meaning: "how often the account's streams and their tags are listed again when discovery is on",
			field:   func(c *Config) any { return &c.Discover.Interval },
			applies: func(c *Config) bool { return c.Discover.Enabled() },
		},
	}
	for _, s := range settings {
		field := s.field
		ks = append(ks, key{
			path: "defaults." + s.name, kind: s.kind, def: s.def, lo: s.lo, hi: s.hi, loOpen: s.loOpen, allowed: s.allowed,
			meaning: s.meaning + " (for every stream that does not set it)",
			field:   func(c *Config) any { return field(&c.Defaults) },
		})
	}
	return ks
}

// Blocks: keys whose value is a mapping of further keys, and the list key.
const streamsKey = "streams"

var blocks = []string{"aws", "aws.endpoints", "log", "alerts", "metrics", "lease", "discover", "defaults"}

// DefaultMetricsListen is the default of metrics.listen: the loopback
// interface only, so that nothing is exposed unless asked for.
const DefaultMetricsListen = "127.0.0.1:9090"

// KeyDoc documents one configuration key.
type KeyDoc struct {
	// Key is the full path, e.g. "defaults.max_shards" or "streams[].name".
	Key string
	// Default is the built-in default as it would be written in the file;
	// empty for a required key, `""` for an optional string.
	Default string
	// Allowed says which values are accepted, e.g. "10s to 1h".
	Allowed string
	// Env is the environment variable that overrides the key; empty for keys
	// of streams entries, which only the file sets.
	Env string
	// Meaning says what the key does.
	Meaning string
}

// Reference documents every key a configuration file may set, in the order
// of config/example.yaml: its default, allowed values, environment variable
// and meaning. Every key of the defaults block may also be set in a streams
// entry, where it overrides the defaults for that stream.
func Reference() []KeyDoc {
	docs := make([]KeyDoc, 0, len(keys)+2)
	for _, k := range keys {
		allowed := k.allowed
		if allowed == "" {
			allowed = describeBounds(k.lo, k.hi, k.loOpen)
		}
		def := formatValue(k.def)
		if def == "" {
			def = `""`
		}
		docs = append(docs, KeyDoc{Key: k.path, Default: def, Allowed: allowed, Env: k.env(), Meaning: k.meaning})
	}
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.name
	}
	docs = append(docs,
		KeyDoc{
			Key: streamsKey, Allowed: "a list of streams; at least one unless discover.tags or discover.name_prefix is set",
			Meaning: "the streams to autoscale; each entry has a name and may set any of " +
				strings.Join(names, ", ") + " to override the defaults block for that stream",
		},
		KeyDoc{
			Key: streamsKey + "[].name", Allowed: "1 to 128 of a-z A-Z 0-9 _ . -, unique",
			Meaning: "name of the Kinesis stream",
		},
	)
	return docs
}

// DefaultStreamSettings returns the built-in defaults of the defaults block.
func DefaultStreamSettings() StreamSettings {
	var s StreamSettings
	for _, st := range settings {
		setValue(st.field(&s), st.def)
	}
	return s
}

// setValue stores v, of the kind's Go type, through the pointer p.
func setValue(p, v any) {
	switch p := p.(type) {
	case *time.Duration:
		*p = v.(time.Duration)
	case *int:
		*p = v.(int)
	case *float64:
		*p = v.(float64)
	case *bool:
		*p = v.(bool)
	case *string:
		*p = v.(string)
	}
}

// valueAt returns the value the pointer p points to.
func valueAt(p any) any {
	switch p := p.(type) {
	case *time.Duration:
		return *p
	case *int:
		return *p
	case *float64:
		return *p
	case *bool:
		return *p
	case *string:
		return *p
	}
	return nil
}

// describeBounds says in words which values bounds allow.
func describeBounds(lo, hi any, loOpen bool) string {
	switch {
	case lo != nil && hi != nil:
		return formatValue(lo) + " to " + formatValue(hi)
	case lo != nil && loOpen:
		return "more than " + formatValue(lo)
	case lo != nil:
		return "at least " + formatValue(lo)
	case hi != nil:
		return "at most " + formatValue(hi)
	}
	return ""
}

// formatValue writes a value the way a configuration file would.
func formatValue(v any) string {
	switch v := v.(type) {
	case time.Duration:
		return formatDuration(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	case string:
		return v
	}
	return ""
}

// formatDuration writes d without zero units: 5m rather than 5m0s, 1h rather
// than 1h0m0s, 1h30m rather than 1h30m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
