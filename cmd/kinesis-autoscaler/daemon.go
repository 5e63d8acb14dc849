package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/adapters"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/awsclient"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/discover"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/lease"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/metrics"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/notify"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/observe"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
)

// Shutdown bounds: ECS kills a task 30 s after SIGTERM. A cycle in flight
// finishes its action (at most 20 s), then these run.
const (
	httpShutdownTimeout = 2 * time.Second
	leaseReleaseTimeout = 3 * time.Second
)

// daemon is the wired daemon: AWS clients, lease, discovery, controller,
// metrics and HTTP server, and the configuration in force.
type daemon struct {
	path      string
	flags     runFlags
	dryRunSet bool
	log       *zap.Logger
	level     zap.AtomicLevel

	metrics *observe.Metrics
	clients awsclient.Clients
	load    controller.LoadReader
	cw      *metrics.CloudWatch
	kinesis *stream.Kinesis
	streams *stream.Cache
	// shardLoad and shards serve shard-level scaling.
	shardLoad adapters.ShardMetrics
	shards    adapters.ShardCalls
	lease     *lease.Lease // nil without a lease table
	finder    *discover.Discoverer
	notifier  *swapNotifier
	ctrl      *controller.Controller
	cycles    *cycleRecorder

	// mu guards cfg, the configuration in force, and discovered, the streams
	// the last discovery found.
	mu         sync.Mutex
	cfg        *config.Config
	discovered []config.Stream
	// rediscover asks the discovery loop to run now.
	rediscover chan struct{}
}

// wiring is how newDaemon builds the daemon besides its configuration.
type wiring struct {
	// statusOnly builds a controller that only looks, for the status
	// command: a standby that reads every stream's record and describes
	// each stream directly (no stream-state cache sweep runs).
	statusOnly bool
	// control builds a controller for the control commands: no lease (an
	// operator's change is not the daemon's), streams described directly.
	control bool
}

// wiringOption sets a part of the wiring.
type wiringOption func(*wiring)

// withStatusOnly wires the daemon of the status command.
func withStatusOnly() wiringOption { return func(w *wiring) { w.statusOnly = true } }

// withControl wires the daemon of the scale command.
func withControl() wiringOption { return func(w *wiring) { w.control = true } }

// newDaemon wires the daemon for cfg. Nothing talks to AWS yet.
func newDaemon(ctx context.Context, cfg *config.Config, f runFlags, dryRunSet bool, log *zap.Logger, level zap.AtomicLevel, opts ...wiringOption) (*daemon, error) {
	var w wiring
	for _, o := range opts {
		o(&w)
	}
	d := &daemon{path: f.config, flags: f, dryRunSet: dryRunSet, log: log, level: level, cfg: cfg, rediscover: make(chan struct{}, 1)}
	bv := readBuildVersion()
	d.metrics = observe.New(observe.BuildInfo{Version: bv.Version, Revision: bv.Revision, GoVersion: bv.GoVersion}, d.role)
	d.metrics.ConfigLoaded()
	observeCall := d.metrics.ObserveCall
	if hook := f.callObserver; hook != nil {
		observeCall = func(service, operation string, err error) {
			d.metrics.ObserveCall(service, operation, err)
			hook(service, operation, err)
		}
	}
	ep := cfg.AWS.Endpoints
	clients, err := awsclient.Load(ctx, cfg.AWS.Region,
		awsclient.Endpoints{Kinesis: ep.Kinesis, CloudWatch: ep.CloudWatch, SNS: ep.SNS, DynamoDB: ep.DynamoDB},
		awsclient.WithCallObserver(observeCall), awsclient.WithLogger(sdkLogger{log: log}, sdkLogMode(level.Level())))
	if errors.Is(err, awsclient.ErrNoRegion) {
		return nil, badInput(fmt.Errorf("%s: %w", cfg.File, err))
	}
	if err != nil {
		return nil, fmt.Errorf("set up AWS clients: %w", err)
	}
	d.clients = clients
	built := adapters.New(clients, log)
	d.cw, d.kinesis, d.streams, d.shardLoad, d.shards = built.Load, built.Kinesis, built.Streams, built.ShardLoad, built.Shards
	d.load = d.cw
	if cfg.Lease.Enabled() {
		d.lease, err = lease.New(clients.DynamoDB, lease.Config{
			Table: cfg.Lease.Table, Name: cfg.Lease.Name, Holder: lease.NewHolderID(), Duration: cfg.Lease.Duration,
		}, lease.WithLogger(log))
		if err != nil {
			return nil, err
		}
	}
	d.finder = discover.New(d.kinesis, func(p *discover.TagProblemError) {
		log.Warn("ignoring setting tag", zap.String("stream", p.Stream), zap.String("tag", p.Key),
			zap.String("value", p.Value), zap.String("reason", p.Reason))
	})
	d.notifier = &swapNotifier{}
	d.notifier.set(notifierFor(cfg, clients, log))
	var observer controller.Observer = d.metrics
	if cfg.Metrics.EMF {
		observer = observe.Observers{d.metrics, observe.NewEMF(log, cfg.Lease.Name)}
	}
	d.cycles = &cycleRecorder{Observer: observer}
	deps := controller.Deps{
		Load:     d.load,
		Streams:  d.streams,
		History:  d.kinesis,
		Notifier: d.notifier,
		Clock:    wallClock{},
		Observer: d.cycles,

		ShardLoad: d.shardLoad,
		Shards:    d.shards,
	}
	if d.lease != nil {
		deps.Leader = d.lease
	}
	ctrlOpts := optionsOf(cfg)
	specs := specsOf(cfg.Streams)
	if w.statusOnly {
		deps.Streams, deps.Shards, deps.Leader, deps.Observer = d.kinesis, d.kinesis, standby{}, nil
		ctrlOpts.ReadAllHistory = true // status shows every stream's last action and calls left
		specs = nil                    // discovery sets them
	}
	if w.control {
		deps.Streams, deps.Shards, deps.Leader, deps.Observer = d.kinesis, d.kinesis, nil, nil
	}
	d.ctrl = controller.New(specs, deps, ctrlOpts, log)
	return d, nil
}

// role is the replica's role for the metrics and /readyz.
func (d *daemon) role() string {
	if d.lease == nil {
		return observe.RoleLeader
	}
	return string(d.lease.Role())
}

// leading reports whether this replica may act and alert now.
func (d *daemon) leading() bool {
	if d.lease == nil {
		return true
	}
	_, ok := d.lease.Leading()
	return ok
}

func notifierFor(cfg *config.Config, clients awsclient.Clients, log *zap.Logger) controller.Notifier {
	if cfg.Alerts.SNSTopicARN != "" {
		return notify.New(clients.SNS, cfg.Alerts.SNSTopicARN)
	}
	return notify.NewLog(log)
}

func specsOf(streams []config.Stream) []controller.StreamSpec {
	specs := make([]controller.StreamSpec, len(streams))
	for i, s := range streams {
		specs[i] = controller.StreamSpec{Name: s.Name, Settings: s.Settings.Policy()}
		if s.Settings.ShardLevel {
			specs[i].Shards = &controller.ShardLevel{Settings: s.Settings.ShardPolicy()}
		}
	}
	return specs
}

func optionsOf(cfg *config.Config) controller.Options {
	return controller.Options{PollInterval: cfg.PollInterval, DryRun: cfg.DryRun, DedupWindow: cfg.Alerts.DedupWindow,
		LogOnlyActing: cfg.Log.OnlyActing}
}

// managed is how many streams the configuration and the last discovery
// name (a stream named by both counts twice).
func (d *daemon) managed() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.cfg.Streams) + len(d.discovered)
}

func (d *daemon) config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// takeLease makes one attempt at the lease, so that a lone replica acts in
// its first cycle.
func (d *daemon) takeLease(ctx context.Context) {
	if d.lease == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.lease.RenewInterval())
	defer cancel()
	if err := d.lease.Attempt(ctx); err != nil {
		d.log.Warn("lease table not reached; acting only once the lease is held", zap.Error(err))
	}
	d.log.Info("lease", zap.String("role", d.role()), zap.String("holder", d.lease.Holder()),
		zap.String("table", d.config().Lease.Table))
}

// discoverNow lists the streams by the discovery rules in force and hands
// the listed and discovered streams to the controller. When discovery fails,
// the streams found before stay, and the error is returned.
func (d *daemon) discoverNow(ctx context.Context) error {
	cfg := d.config()
	if !cfg.Discover.Enabled() {
		d.mu.Lock()
		d.discovered = nil
		d.mu.Unlock()
		d.ctrl.SetStreams(specsOf(cfg.Streams))
		return nil
	}
	found, err := d.finder.Discover(ctx, discover.RulesOf(cfg))
	if err != nil && found == nil {
		if ctx.Err() == nil {
			d.log.Warn("discover streams; keeping the streams found before", zap.Error(err))
		}
		d.mu.Lock()
		found = d.discovered
		d.mu.Unlock()
	} else if err != nil {
		d.log.Warn("read the tags of some streams; they keep the settings found before", zap.Error(err))
	}
	d.mu.Lock()
	d.discovered = found
	streams := discover.Merge(d.cfg.Streams, found)
	d.mu.Unlock()
	d.log.Info("streams", zap.Int("listed", len(cfg.Streams)), zap.Int("discovered", len(found)), zap.Int("managed", len(streams)))
	d.ctrl.SetStreams(specsOf(streams))
	if err != nil {
		return fmt.Errorf("discover streams: %w", err)
	}
	return nil
}

// discoverLoop rediscovers every discover.interval, and at once when the
// configuration changes, until ctx is done.
func (d *daemon) discoverLoop(ctx context.Context) {
	interval := d.config().Discover.Interval
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.rediscover:
		}
		_ = d.discoverNow(ctx) // logged; the streams found before stay
		if i := d.config().Discover.Interval; i != interval {
			interval = i
			t.Reset(i)
		}
	}
}

// serve starts the HTTP server of /metrics, /healthz and /readyz on
// metrics.listen and returns a function that shuts it down.
func (d *daemon) serve() (func(), error) {
	addr := d.config().Metrics.Listen
	if addr == "" {
		return func() {}, nil
	}
	srv, err := observe.Listen(addr, d.metrics.Handler(), observe.DefaultServerLimits)
	if err != nil {
		return nil, fmt.Errorf("listen on metrics.listen %s: %w", addr, err)
	}
	go func() {
		if err := srv.Serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("metrics server", zap.Error(err))
		}
	}()
	d.log.Info("serving /metrics, /healthz and /readyz", zap.String("address", srv.Addr().String()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// run runs the daemon until ctx is done; hup delivers reload requests.
func (d *daemon) run(ctx context.Context, hup <-chan struct{}) error {
	stopServer, err := d.serve()
	if err != nil {
		return err
	}
	defer stopServer()

	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	defer func() {
		stopBackground()
		wg.Wait()
	}()
	// The stream-state cache sweeps the account's streams while the loop runs.
	wg.Go(func() { d.streams.Run(bg) })
	d.takeLease(ctx)
	if d.lease != nil {
		// The lease outlives the loop a little: it is released once the last
		// cycle is over, not while it may still be acting.
		wg.Go(func() { d.lease.Run(bg) })
	}
	_ = d.discoverNow(ctx) // logged; discovery runs again every discover.interval
	wg.Go(func() { d.discoverLoop(bg) })
	wg.Go(func() {
		for {
			select {
			case <-bg.Done():
				return
			case <-hup:
				d.reload(bg)
			}
		}
	})

	cfg := d.config()
	d.log.Info("starting", zap.String("config", cfg.File), zap.Int("streams", len(cfg.Streams)),
		zap.Bool("discovery", cfg.Discover.Enabled()), zap.Bool("lease", d.lease != nil),
		zap.Duration("poll_interval", cfg.PollInterval), zap.Bool("dry_run", cfg.DryRun))
	err = d.ctrl.Run(ctx)
	d.log.Info("stopping")
	return err
}

// once runs a single cycle: takes the lease if one is configured (a standby
// changes nothing), discovers, runs the cycle and releases the lease.
// sweepAbove is how many managed streams make run --once list every
// stream's status first (ListStreams, 100 a call at 3 calls a second)
// rather than describe each (16 a second): a few seconds of describing.
const sweepAbove = 50

func (d *daemon) once(ctx context.Context, stdout io.Writer) error {
	d.takeLease(ctx)
	if d.lease != nil {
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseReleaseTimeout)
			defer cancel()
			if err := d.lease.Release(rctx); err != nil {
				d.log.Warn("release lease", zap.Error(err))
			}
		}()
	}
	discoverErr := d.discoverNow(ctx)
	if n := d.managed(); n > sweepAbove {
		// One listing of every stream's status by the hundred beats
		// describing this many streams one by one.
		if err := d.streams.Sweep(ctx); err != nil {
			d.log.Warn("list streams for their status; describing them one by one", zap.Error(err))
		}
	}
	outcomes := d.ctrl.RunCycle(ctx)
	s := controller.Summarise(d.cycles.last(), outcomes, d.config().DryRun)
	err := onceError(s, discoverErr)
	fmt.Fprintln(stdout, onceLine(s, err))
	return err
}

// onceError says why a single cycle could not do its work, nil when it
// could: a standby changes nothing, and a cycle that could not reach AWS
// (metrics, streams or discovery) cannot have decided on what it needed.
func onceError(s controller.CycleSummary, discoverErr error) error {
	var errs []error
	if !s.Leading {
		errs = append(errs, errors.New("standby: another replica holds the lease, so this one changed nothing"))
	}
	if discoverErr != nil {
		errs = append(errs, discoverErr)
	}
	if s.LoadErr != nil {
		errs = append(errs, fmt.Errorf("read CloudWatch metrics: %w", s.LoadErr))
	}
	if s.Errors > 0 {
		errs = append(errs, fmt.Errorf("%d of %d streams failed this cycle (see the log)", s.Errors, s.Streams))
	}
	return errors.Join(errs...)
}

// onceLine is the one line `run --once` prints: what the cycle did, and
// whether it could act.
func onceLine(s controller.CycleSummary, err error) string {
	role := "leader"
	if !s.Leading {
		role = "standby"
	}
	mode := ""
	if s.DryRun {
		mode = ", dry run"
	}
	verdict := "ok"
	if err != nil {
		verdict = "could not act"
	}
	return fmt.Sprintf("run --once: %s: %d streams, %d actions, %d would act, %d deferred, %d errors (%s%s, %s)",
		verdict, s.Streams, s.Actions, s.WouldAct, s.Deferred, s.Errors, role, mode, s.Took.Round(time.Millisecond))
}

// cycleRecorder passes outcomes on to the metrics and keeps the last
// cycle's report for `run --once`.
type cycleRecorder struct {
	controller.Observer
	mu     sync.Mutex
	report controller.CycleReport
}

// ObserveCycle implements controller.Observer.
func (r *cycleRecorder) ObserveCycle(rep controller.CycleReport) {
	r.Observer.ObserveCycle(rep)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.report = rep
}

func (r *cycleRecorder) last() controller.CycleReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.report
}

// reload loads the configuration file again. A good one takes effect at the
// next cycle; a bad one is rejected with a log line and, from the leader, an
// alert, and the configuration in force stays.
func (d *daemon) reload(ctx context.Context) {
	d.log.Info("SIGHUP: reloading the configuration", zap.String("config", d.path))
	cfg, err := config.Load(d.path)
	if err != nil {
		d.metrics.ObserveReload(false)
		d.log.Error("new configuration rejected; the configuration in force stays", zap.Error(err))
		if d.leading() {
			alert := policy.Alert{Kind: notify.AlertConfigRejected, At: time.Now(),
				Err:  strings.ReplaceAll(err.Error(), "\n", "; "),
				Next: "the configuration loaded before stays in force; fix the file and send SIGHUP again"}
			if err := d.notifier.Notify(ctx, alert); err != nil {
				d.log.Warn("send alert", zap.Error(err))
			}
		}
		return
	}
	if d.dryRunSet {
		cfg.DryRun = d.flags.dryRun
	}
	old := d.config()
	for _, key := range restartOnly(old, cfg) {
		d.log.Warn("changed key takes effect only at restart", zap.String("key", key))
	}
	if d.flags.logLevel == "" && cfg.Log.Level != old.Log.Level {
		if lvl, err := zapcore.ParseLevel(cfg.Log.Level); err == nil {
			d.level.SetLevel(lvl)
		}
	}
	d.mu.Lock()
	// Keys that need a restart keep their old values, so that what the
	// daemon reports is what it runs with.
	cfg.AWS, cfg.Lease, cfg.Metrics, cfg.Log.Format = old.AWS, old.Lease, old.Metrics, old.Log.Format
	d.cfg = cfg
	d.mu.Unlock()
	d.notifier.set(notifierFor(cfg, d.clients, d.log))
	d.ctrl.SetOptions(optionsOf(cfg))
	if cfg.Discover.Enabled() {
		select {
		case d.rediscover <- struct{}{}:
		default:
		}
	} else {
		_ = d.discoverNow(ctx) // discovery is off: it cannot fail
	}
	d.metrics.ObserveReload(true)
	d.log.Info("configuration reloaded", zap.Int("streams", len(cfg.Streams)), zap.Bool("discovery", cfg.Discover.Enabled()),
		zap.Duration("poll_interval", cfg.PollInterval), zap.Bool("dry_run", cfg.DryRun))
}

// restartOnly names the keys that changed but take effect only at restart.
func restartOnly(old, cfg *config.Config) []string {
	var keys []string
	for _, k := range []struct {
		key     string
		changed bool
	}{
		{key: "aws", changed: old.AWS != cfg.AWS},
		{key: "lease", changed: old.Lease != cfg.Lease},
		{key: "metrics.listen", changed: old.Metrics != cfg.Metrics},
		{key: "log.format", changed: old.Log.Format != cfg.Log.Format},
	} {
		if k.changed {
			keys = append(keys, k.key)
		}
	}
	return keys
}

// swapNotifier is a Notifier whose target a reload can change.
type swapNotifier struct {
	mu sync.Mutex
	n  controller.Notifier
}

func (s *swapNotifier) set(n controller.Notifier) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n = n
}

func (s *swapNotifier) Notify(ctx context.Context, a policy.Alert) error {
	s.mu.Lock()
	n := s.n
	s.mu.Unlock()
	return n.Notify(ctx, a)
}
