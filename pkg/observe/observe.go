// Package observe shows what the daemon sees and does to the people and
// systems that watch it: Prometheus metrics on /metrics, and the health
// endpoints /healthz (the process is alive) and /readyz (configured, AWS
// reachable at the last cycle, leader or standby) for ECS and load
// balancers.
//
// Metrics implements controller.Observer: the controller reports each
// cycle's outcomes and this package turns them into metrics, so that the
// controller knows nothing of Prometheus. Each daemon has its own registry;
// nothing is registered globally.
package observe

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/awsclient"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// Namespace starts every metric name.
const Namespace = "kinesis_autoscaler"

// Utilisation dimensions, as the label dimension has them.
const (
	DimensionWriteBytes   = "write_bytes"
	DimensionWriteRecords = "write_records"
	DimensionReadBytes    = "read_bytes"
)

// Roles of a replica, as RoleFunc returns them.
const (
	RoleLeader  = "leader"
	RoleStandby = "standby"
	RoleUnknown = "unknown"
)

// RoleFunc says whether this replica is the leader, a standby, or cannot
// tell (the lease table is out of reach).
type RoleFunc func() string

// Metrics holds the daemon's metrics and health. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg  *prometheus.Registry
	role RoleFunc
	// collectors are everything registered, for SeriesNames.
	collectors []prometheus.Collector

	openShards    *prometheus.GaugeVec
	streamUp      *prometheus.GaugeVec
	utilisation   *prometheus.GaugeVec
	targetShards  *prometheus.GaugeVec
	callsLeft     *prometheus.GaugeVec
	actions       *prometheus.CounterVec
	throttled     *prometheus.CounterVec
	cycleDuration prometheus.Histogram
	reshardTook   prometheus.Histogram
	lastCycle     prometheus.Gauge
	streams       prometheus.Gauge
	awsCalls      *prometheus.CounterVec
	awsErrors     *prometheus.CounterVec
	reloads       *prometheus.CounterVec
	// Shard level, for streams with shard_level.
	shardChanges *prometheus.CounterVec
	hottestShard *prometheus.GaugeVec
	hotKeys      *prometheus.GaugeVec

	mu sync.Mutex
	// counted is, per stream, the start of the newest minute whose throttled
	// records are counted.
	counted map[string]time.Time
	// managed are the streams of the last cycle, whose series exist.
	managed []string
	health  health
}

var _ controller.Observer = (*Metrics)(nil)

// BuildInfo is what the daemon's binary knows of its build, exported as the
// labels of build_info.
type BuildInfo struct {
	Version   string
	Revision  string
	GoVersion string
}

// New returns the metrics of a daemon of the build, in a registry of their
// own, with the Go runtime's and the process's. role is asked at every
// scrape and readiness check.
func New(build BuildInfo, role RoleFunc) *Metrics {
	if role == nil {
		role = func() string { return RoleLeader }
	}
	m := &Metrics{reg: prometheus.NewRegistry(), role: role, counted: map[string]time.Time{}}
	stream := []string{"stream"}
	m.openShards = m.gaugeVec("open_shards", "Open shards of the stream at the last cycle; absent while the stream cannot be read.", stream)
	m.streamUp = m.gaugeVec("stream_up", "1 when the stream's state was read at the last cycle, 0 when an AWS error prevented it.", stream)
	m.utilisation = m.gaugeVec("utilisation_ratio",
		"Load of the minute that drove the last decision, as a fraction of the open shards' capacity, per dimension; "+
			"absent when no minute of the stream is known (unknown is not idle).",
		[]string{"stream", "dimension"})
	m.targetShards = m.gaugeVec("target_shards",
		"Shard count the policy asked for at the last cycle; equal to open_shards when it asked for no change; "+
			"absent for an ON_DEMAND stream, whose shards AWS sets.", stream)
	m.callsLeft = m.gaugeVec("reshard_calls_left",
		"UpdateShardCount calls left to the stream in AWS's rolling 24 h window, as the daemon's record counts them; set once the record was read (when a decision would act).", stream)
	m.actions = m.counterVec("scaling_actions_total",
		"Scaling actions the policy asked for, by direction and result: requested, dry_run, busy, quota_exceeded, failed, "+
			"not_recorded, lease_lost, deferred.", []string{"stream", "direction", "result"})
	m.throttled = m.counterVec("throttled_records_total",
		"Records the stream refused (WriteProvisionedThroughputExceeded), each minute counted once when first seen.", stream)
	m.cycleDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "cycle_duration_seconds", Help: "How long a cycle over every stream took.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	})
	m.reshardTook = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "reshard_duration_seconds",
		Help: "How long UpdateShardCount reshards took, from the call to the first cycle that saw the stream ACTIVE at the new count " +
			"(to within a cycle, or two where one was missed; reshards whose end more missed cycles hid are not counted).",
		Buckets: []float64{60, 120, 180, 240, 300, 420, 600, 900, 1800, 3600},
	})
	m.lastCycle = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "last_cycle_timestamp_seconds", Help: "When the last cycle finished, in Unix seconds.",
	})
	m.streams = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "managed_streams", Help: "Streams managed at the last cycle, listed and discovered.",
	})
	m.awsCalls = m.counterVec("aws_calls_total", "AWS calls made, retries included, by service and operation.",
		[]string{"service", "operation"})
	m.awsErrors = m.counterVec("aws_errors_total",
		"AWS calls that failed after the SDK's retries, by service, operation and error code.", []string{"service", "operation", "code"})
	m.shardChanges = m.counterVec("shard_changes_total",
		"SplitShard and MergeShards calls the shard-level decision asked for, by action (split, merge) and result, as scaling_actions_total.",
		[]string{"stream", "action", "result"})
	m.hottestShard = m.gaugeVec("hottest_shard_utilisation_ratio",
		"Utilisation of one shard's capacity of the busiest open shard in its latest minute of enhanced shard-level metrics.", stream)
	m.hotKeys = m.gaugeVec("hot_partition_keys", "Ranges of the hash-key space known to hold a hot partition key.", stream)
	m.reloads = m.counterVec("config_reloads_total", "Configuration reloads on SIGHUP, by result: applied or rejected.",
		[]string{"result"})
	leader := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "leader",
		Help: "1 when this replica is the leader and may act, 0 when it is a standby or cannot reach the lease table.",
	}, func() float64 {
		if m.role() == RoleLeader {
			return 1
		}
		return 0
	})
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "build_info", Help: "The daemon's version, VCS revision and Go version, as labels; always 1.",
		ConstLabels: prometheus.Labels{"version": build.Version, "revision": build.Revision, "go_version": build.GoVersion},
	})
	buildInfo.Set(1)
	m.register(m.cycleDuration, m.reshardTook, m.lastCycle, m.streams, leader, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *Metrics) register(cs ...prometheus.Collector) {
	m.reg.MustRegister(cs...)
	m.collectors = append(m.collectors, cs...)
}

func (m *Metrics) gaugeVec(name, help string, labels []string) *prometheus.GaugeVec {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	m.register(v)
	return v
}

func (m *Metrics) counterVec(name, help string, labels []string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
	m.register(v)
	return v
}

// descName finds the metric name in a Desc's text: the client library
// offers no accessor.
var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

// SeriesNames lists the name of every series the daemon exports, the
// histograms' _bucket, _sum and _count included, sorted: what a dashboard's
// queries may name.
func (m *Metrics) SeriesNames() []string {
	descs := make(chan *prometheus.Desc)
	go func() {
		for _, c := range m.collectors {
			c.Describe(descs)
		}
		close(descs)
	}()
	var names []string
	for d := range descs {
		if match := descName.FindStringSubmatch(d.String()); match != nil {
			names = append(names, match[1])
		}
	}
	// Histograms and summaries are exported as series of their own. Those
	// not in a vector are gathered even before any observation.
	families, _ := m.reg.Gather()
	for _, f := range families {
		var suffixes []string
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			suffixes = []string{"_bucket", "_sum", "_count"}
		case dto.MetricType_SUMMARY:
			suffixes = []string{"_sum", "_count"}
		}
		for _, suffix := range suffixes {
			names = append(names, f.GetName()+suffix)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Registry is the registry of the metrics, for tests and further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveStream implements controller.Observer.
func (m *Metrics) ObserveStream(o controller.Outcome) {
	if o.Result != "" {
		m.actions.WithLabelValues(o.Stream, string(o.Decision.Direction), string(o.Result)).Inc()
	}
	stream := prometheus.Labels{"stream": o.Stream}
	if !o.Observed {
		// What was known of the stream is no longer: its gauges go, and
		// stream_up says why.
		m.streamUp.WithLabelValues(o.Stream).Set(0)
		for _, v := range []*prometheus.GaugeVec{m.openShards, m.targetShards, m.utilisation} {
			v.DeletePartialMatch(stream)
		}
		return
	}
	m.streamUp.WithLabelValues(o.Stream).Set(1)
	if o.ReshardTook > 0 {
		m.reshardTook.Observe(o.ReshardTook.Seconds())
	}
	d := o.Decision
	m.openShards.WithLabelValues(o.Stream).Set(float64(o.State.OpenShards))
	if o.State.Mode == policy.ModeOnDemand {
		m.targetShards.DeletePartialMatch(stream)
	} else {
		m.targetShards.WithLabelValues(o.Stream).Set(float64(d.Target))
	}
	if o.HistoryRead {
		// Without the history the decision does not know the calls used.
		m.callsLeft.WithLabelValues(o.Stream).Set(float64(d.CallsLeft))
	}
	if d.Trigger == nil {
		// No minute of the stream is known: unknown, not idle.
		m.utilisation.DeletePartialMatch(stream)
	} else {
		m.utilisation.WithLabelValues(o.Stream, DimensionWriteBytes).Set(d.Utilisation.WriteBytes)
		m.utilisation.WithLabelValues(o.Stream, DimensionWriteRecords).Set(d.Utilisation.WriteRecords)
		m.utilisation.WithLabelValues(o.Stream, DimensionReadBytes).Set(d.Utilisation.ReadBytes)
	}
	if s := o.Shards; s != nil {
		for _, a := range s.Actions {
			if s.Result != "" && (a.Kind == policy.ShardSplit || a.Kind == policy.ShardMerge) {
				m.shardChanges.WithLabelValues(o.Stream, string(a.Kind), string(s.Result)).Inc()
				break
			}
		}
		hottest := 0.0
		for _, l := range s.Loads {
			hottest = max(hottest, l.Utilisation())
		}
		m.hottestShard.WithLabelValues(o.Stream).Set(hottest)
		m.hotKeys.WithLabelValues(o.Stream).Set(float64(len(s.HotKeys)))
	}

	// Each minute's refused records are counted once. The first look at a
	// stream only sets where counting starts, so that a restarted daemon
	// does not count again the minutes its predecessor counted.
	m.mu.Lock()
	defer m.mu.Unlock()
	last, seen := m.counted[o.Stream]
	for _, r := range o.Refused {
		if seen && r.Start.After(last) {
			m.throttled.WithLabelValues(o.Stream).Add(r.Records)
		}
	}
	m.counted[o.Stream] = maxTime(last, o.SeenThrough)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// ObserveCycle implements controller.Observer.
func (m *Metrics) ObserveCycle(r controller.CycleReport) {
	m.cycleDuration.Observe(r.Took.Seconds())
	m.lastCycle.Set(float64(time.Now().UnixNano()) / 1e9)
	m.streams.Set(float64(len(r.Streams)))

	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.managed {
		if !slices.Contains(r.Streams, s) {
			// A stream no longer managed: its series go.
			labels := prometheus.Labels{"stream": s}
			for _, v := range []*prometheus.GaugeVec{m.openShards, m.streamUp, m.utilisation, m.targetShards, m.callsLeft, m.hottestShard, m.hotKeys} {
				v.DeletePartialMatch(labels)
			}
			for _, v := range []*prometheus.CounterVec{m.actions, m.throttled, m.shardChanges} {
				v.DeletePartialMatch(labels)
			}
			delete(m.counted, s)
		}
	}
	m.managed = slices.Clone(r.Streams)
	m.health.cycled(r)
}

// ObserveCall counts an AWS call and, when it failed, its error by code; it
// is an awsclient.CallObserver.
func (m *Metrics) ObserveCall(service, operation string, err error) {
	m.awsCalls.WithLabelValues(service, operation).Inc()
	if err != nil {
		m.awsErrors.WithLabelValues(service, operation, awsclient.ErrorCode(err)).Inc()
	}
}

// ObserveReload counts a configuration reload.
func (m *Metrics) ObserveReload(applied bool) {
	result := "applied"
	if !applied {
		result = "rejected"
	}
	m.reloads.WithLabelValues(result).Inc()
}

// ConfigLoaded marks the configuration as loaded, for /readyz.
func (m *Metrics) ConfigLoaded() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.health.configLoaded = true
}

// Handler serves /metrics, /healthz and /readyz.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ready, lines := m.Ready()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	})
	return mux
}

// Ready reports whether the daemon is ready — configuration loaded, a cycle
// run and AWS reached in the last one, the replica's role known — with one
// line per check.
func (m *Metrics) Ready() (bool, []string) {
	role := m.role()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.health.ready(role)
}

// health is what /readyz checks.
type health struct {
	configLoaded bool
	cycles       int
	// awsProblem says how the last cycle failed to reach AWS, "" if it did:
	// which check failed and AWS's error code, never AWS's message, which
	// carries account ids and ARNs to anyone who can reach /readyz.
	awsProblem string
}

func (h *health) cycled(r controller.CycleReport) {
	h.cycles++
	switch {
	case r.LoadErr != nil:
		h.awsProblem = "CloudWatch metrics could not be read (" + awsclient.ErrorCode(r.LoadErr) + ")"
	case len(r.Streams) > 0 && r.Failed == len(r.Streams):
		h.awsProblem = fmt.Sprintf("none of the %d streams could be read from Kinesis", len(r.Streams))
	default:
		h.awsProblem = ""
	}
}

func (h *health) ready(role string) (bool, []string) {
	ok := true
	check := func(pass bool, good, bad string) string {
		if pass {
			return "ok   " + good
		}
		ok = false
		return "FAIL " + bad
	}
	aws := "no cycle has run yet"
	if h.cycles > 0 {
		aws = "AWS not reached at the last cycle: " + h.awsProblem
	}
	lines := []string{
		check(h.configLoaded, "configuration loaded", "configuration not loaded"),
		check(h.cycles > 0 && h.awsProblem == "", "AWS reached at the last cycle", aws),
		check(role == RoleLeader || role == RoleStandby, "role: "+role, "role unknown: the lease table is out of reach"),
	}
	return ok, lines
}
