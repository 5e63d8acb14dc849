// Package config loads and checks the autoscaler's configuration file.
//
// Load applies the built-in defaults, then the YAML file, then environment
// variables (KINESIS_AUTOSCALER_ followed by the key's path in upper case with
// dots as underscores), decodes the result strictly — an unknown key anywhere
// is an error, named by its full path — and validates it. Every problem found
// is reported at once, as an *Error listing "FILE: KEY: REASON" lines.
//
// Each streams entry starts as a copy of the resolved defaults block; the
// keys the entry sets override it. Reference documents every key.
package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/viper"
)

// Config is the autoscaler's configuration.
type Config struct {
	// AWS says where and how to reach AWS (key aws).
	AWS AWS
	// PollInterval is how often every stream is evaluated (key poll_interval).
	PollInterval time.Duration
	// DryRun makes the autoscaler decide, log and alert without ever changing
	// a shard count (key dry_run).
	DryRun bool
	// Log sets the log encoding and level (key log).
	Log Log
	// Alerts says where alerts go and how often they repeat (key alerts).
	Alerts Alerts
	// Metrics says where the Prometheus and health endpoints listen (key
	// metrics).
	Metrics Metrics
	// Lease configures the DynamoDB lease that lets one of several replicas
	// act (key lease).
	Lease Lease
	// Discover chooses streams by tag and name prefix, besides the streams
	// list (key discover).
	Discover Discover
	// Defaults are the settings of every stream that does not override them
	// (key defaults).
	Defaults StreamSettings
	// Streams are the streams to autoscale, each with its settings fully
	// resolved (key streams).
	Streams []Stream
	// File is the path the configuration was loaded from; it is not a key.
	File string
}

// AWS says where and how to reach AWS.
type AWS struct {
	// Region is the AWS region (key aws.region); empty means the SDK's default
	// chain (AWS_REGION and so on).
	Region string
	// Endpoints override AWS's service endpoints, e.g. to use LocalStack
	// (key aws.endpoints).
	Endpoints Endpoints
}

// Endpoints are optional endpoint URLs of the AWS services used; empty means
// AWS's own endpoint.
type Endpoints struct {
	// Kinesis is the Kinesis endpoint URL (key aws.endpoints.kinesis).
	Kinesis string
	// CloudWatch is the CloudWatch endpoint URL (key aws.endpoints.cloudwatch).
	CloudWatch string
	// SNS is the SNS endpoint URL (key aws.endpoints.sns).
	SNS string
	// DynamoDB is the DynamoDB endpoint URL, for the lease table (key
	// aws.endpoints.dynamodb).
	DynamoDB string
}

// Log sets the log encoding and level.
type Log struct {
	// Format is the log encoding, "json" or "console" (key log.format).
	Format string
	// Level is the least severe level logged: "debug", "info", "warn" or
	// "error" (key log.level).
	Level string
	// OnlyActing logs at info only the cycles, and the streams' lines, that
	// act, would act, defer or fail; the rest at debug (key
	// log.only_acting).
	OnlyActing bool
}

// Alerts says where alerts go and how often an identical alert repeats.
type Alerts struct {
	// SNSTopicARN is the SNS topic alerts are published to (key
	// alerts.sns_topic_arn); empty means alerts are only logged.
	SNSTopicARN string
	// DedupWindow is how long an alert identical to one already sent is
	// suppressed (key alerts.dedup_window).
	DedupWindow time.Duration
}

// Metrics says where the HTTP endpoints /metrics, /healthz and /readyz
// listen.
type Metrics struct {
	// Listen is the HOST:PORT address (key metrics.listen); empty serves
	// nothing.
	Listen string
	// EMF writes one line a cycle in CloudWatch's embedded metric format,
	// the daemon's health as metrics without an API call (key metrics.emf).
	EMF bool
}

// Lease configures high availability: with a table, replicas share a lease
// in DynamoDB and only its holder acts.
type Lease struct {
	// Table is the DynamoDB table that holds the lease (key lease.table);
	// empty means no lease: this replica always acts.
	Table string
	// Name is the lease's key in the table (key lease.name); replicas with the
	// same name compete for one lease.
	Name string
	// Duration is how long a lease lasts unless renewed (key
	// lease.duration); it is renewed every quarter of it, and a holder stops
	// acting in its last quarter.
	Duration time.Duration
}

// Enabled reports whether a lease table is configured.
func (l Lease) Enabled() bool { return l.Table != "" }

// Discover chooses streams besides the streams list: a stream is managed
// when it matches every tag of Tags and starts with NamePrefix (each
// criterion applies only when set).
type Discover struct {
	// Tags is "KEY=VALUE[,KEY=VALUE...]" (key discover.tags): a stream must
	// carry every one of these tags.
	Tags string
	// NamePrefix is a stream name prefix (key discover.name_prefix).
	NamePrefix string
	// Interval is how often the account's streams are listed again (key
	// discover.interval).
	Interval time.Duration
}

// Enabled reports whether discovery is configured.
func (d Discover) Enabled() bool { return d.Tags != "" || d.NamePrefix != "" }

// TagFilter returns the tags of Tags as a map; it ignores malformed pairs,
// which Validate reports.
func (d Discover) TagFilter() map[string]string {
	out := map[string]string{}
	for _, p := range tagPairs(d.Tags) {
		if p.reason == "" {
			out[p.key] = p.value
		}
	}
	return out
}

// StreamSettings are the scaling settings of one stream.
type StreamSettings struct {
	// MinShards is the fewest shards the autoscaler sets (key min_shards).
	MinShards int
	// MaxShards is the most shards the autoscaler sets (key max_shards).
	MaxShards int
	// ScaleUpThreshold is the utilisation, as a fraction of capacity, above
	// which the stream scales up (key scale_up_threshold).
	ScaleUpThreshold float64
	// ScaleDownThreshold is the utilisation below which the stream scales
	// down (key scale_down_threshold).
	ScaleDownThreshold float64
	// ScaleUpAfter is how long utilisation must stay above ScaleUpThreshold
	// before a scale-up (key scale_up_after).
	ScaleUpAfter time.Duration
	// ScaleDownAfter is how long utilisation must stay below
	// ScaleDownThreshold before a scale-down (key scale_down_after).
	ScaleDownAfter time.Duration
	// CooldownUp is the least time after any scaling action before a
	// scale-up (key cooldown_up).
	CooldownUp time.Duration
	// CooldownDown is the least time after any scaling action before a
	// scale-down (key cooldown_down).
	CooldownDown time.Duration
	// MaxIteratorAge is the consumers' iterator age above which the stream
	// is not scaled down (key max_iterator_age).
	MaxIteratorAge time.Duration
	// ShardLevel turns on shard-level scaling: hot shards split, cold
	// neighbours merged, hot partition keys reported (key shard_level).
	ShardLevel bool
	// MaxShardChangesPerDay caps SplitShard plus MergeShards calls in any
	// rolling 24 h (key max_shard_changes_per_day).
	MaxShardChangesPerDay int
	// Headroom is the default policy's trade-off between lost records and
	// shards (key headroom): lossless, balanced or economy.
	Headroom string
}

// Stream is one stream to autoscale.
type Stream struct {
	// Name is the Kinesis stream's name (key name of a streams entry).
	Name string
	// Settings are the stream's settings: the defaults block, overridden by
	// the keys the streams entry sets.
	Settings StreamSettings
}

// Load reads the YAML configuration file at path, applies defaults and
// KINESIS_AUTOSCALER_* environment overrides, decodes it strictly and
// validates it. On any problem it returns a nil Config and an *Error that
// lists every problem found. A file of only comments is an empty mapping:
// the environment may then give every setting.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, errorOf(path, []Problem{{Reason: "cannot read the file: " + readFailure(err)}})
	}
	if len(data) > MaxFileBytes {
		return nil, errorOf(path, []Problem{{Reason: fmt.Sprintf("the file is larger than %d MiB, more than any configuration needs", MaxFileBytes>>20)}})
	}
	tree, problems, err := readTree(data)
	if err != nil {
		return nil, errorOf(path, []Problem{{Reason: err.Error()}})
	}
	v, err := newViper(tree)
	if err != nil {
		return nil, errorOf(path, []Problem{{Reason: err.Error()}})
	}
	cfg := &Config{File: path}
	d := newDecoder(v)
	d.decode(cfg)
	problems = append(problems, d.problems...)
	problems = append(problems, cfg.validate(d.failed)...)
	problems = append(problems, unknownEnvironment(os.Environ())...)
	sortProblems(problems)
	if err := fromEnvironment(errorOf(path, problems)); err != nil {
		return nil, err
	}
	return cfg, nil
}

// MaxFileBytes is the largest configuration file read; 10,000 streams
// entries that each set every setting take 2.9 MB.
const MaxFileBytes = 16 << 20

// readFile reads up to MaxFileBytes+1 bytes of the file at path.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
}

// readFailure says why a file could not be read, without repeating its path.
func readFailure(err error) string {
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) {
		err = pathErr.Err
	}
	return err.Error()
}

// newViper returns a viper instance holding the file's tree that knows every
// key: its built-in default and its environment variable.
func newViper(tree map[string]any) (*viper.Viper, error) {
	v := viper.New()
	for _, k := range keys {
		v.SetDefault(k.path, k.def)
		if err := v.BindEnv(k.path, k.env()); err != nil {
			return nil, err
		}
	}
	if err := v.MergeConfigMap(tree); err != nil {
		return nil, fmt.Errorf("read the settings: %w", err)
	}
	return v, nil
}

// unknownEnvironment reports every KINESIS_AUTOSCALER_* variable of env
// (as os.Environ gives it) that overrides no key, with the variable meant:
// a misspelt KINESIS_AUTOSCALER_DRYRUN=true must not leave the daemon acting
// for real.
func unknownEnvironment(env []string) []Problem {
	known := map[string]bool{}
	var suffixes []string
	for _, k := range keys {
		known[k.env()] = true
		suffixes = append(suffixes, strings.TrimPrefix(k.env(), EnvPrefix+"_"))
	}
	var problems []Problem
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		// In any case: kinesis_autoscaler_dry_run is as easily meant, and
		// as silently ignored, as a misspelling.
		suffix, ok := strings.CutPrefix(strings.ToUpper(name), EnvPrefix+"_")
		if !ok || known[name] {
			continue
		}
		reason := "is not a setting of kinesis-autoscaler"
		if s := closest(strings.ToUpper(suffix), suffixes); s != "" {
			reason += " (did you mean " + EnvPrefix + "_" + s + "?)"
		}
		problems = append(problems, Problem{Key: "environment variable " + name, Reason: reason})
	}
	slices.SortFunc(problems, func(a, b Problem) int { return strings.Compare(a.Key, b.Key) })
	return problems
}

// fromEnvironment notes, on each problem with a key that an environment
// variable set, the variable's name, since the file is not to blame.
func fromEnvironment(err error) error {
	var cfgErr *Error
	if !errors.As(err, &cfgErr) {
		return err
	}
	for i, p := range cfgErr.Problems {
		for _, k := range keys {
			if k.path != p.Key {
				continue
			}
			if val, ok := os.LookupEnv(k.env()); ok && val != "" {
				cfgErr.Problems[i].Reason += " (from environment variable " + k.env() + ")"
			}
		}
	}
	return cfgErr
}

// oneLine joins the lines of a multi-line message.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
