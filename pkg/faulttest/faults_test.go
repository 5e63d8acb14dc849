package faulttest

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/faultproxy"
)

// plan is how a scenario's cycles, one simulated minute each, are spent:
// clean until faultFrom, under the fault until faultTo, then clean again
// until cycles, long enough to converge.
type plan struct {
	backend                    string
	faultFrom, faultTo, cycles int
}

// onFake runs every scenario against awsfake; onMock runs a few against
// kinesis-mock, which costs about 30 ms of CPU a call.
var (
	onFake = plan{backend: "awsfake", faultFrom: 5, faultTo: 45, cycles: 120}
	onMock = plan{backend: "kinesis-mock", faultFrom: 3, faultTo: 23, cycles: 50}
)

// scenario is one fault and what the daemon must do under it.
type scenario struct {
	name string
	// roles are the streams the scenario has; none means every model.
	roles []string
	// inject installs the fault's rules at faultFrom; the harness removes
	// every rule at faultTo.
	inject func(w *world)
	// affects are the roles whose calls or data the fault touches; none
	// means every stream.
	affects []string
	// dataFault says the fault leaves the affected streams' CloudWatch data
	// missing, partial or an error: no scale-down may follow.
	dataFault bool
	// alerts are the exact counts of alerts, by "event/role", the fault
	// phase must send ("all streams" is the role of daemon-wide alerts).
	// Any other kind may be sent at most once per stream: a persistent
	// fault is one alert, not one per cycle. Nil skips the alert checks.
	alerts map[string]int
	// faultCycles, when set, is how long the fault lasts instead of the
	// plan's fault phase; the scenario runs long enough to converge after.
	faultCycles int
	// restartEvery restarts the daemon at faultFrom and then every so many
	// cycles of the fault phase; 0 never.
	restartEvery int
	// bug names a known bug of another package that makes the scenario fail
	// today; see the package comment.
	bug string
}

// rule is a faultproxy rule on one operation of one role's stream ("" for
// any stream).
func rule(w *world, op, role string, f faultproxy.Fault) faultproxy.Rule {
	r := faultproxy.Rule{Operation: op, Fault: f}
	if role != "" {
		r.Stream = w.stream(role).name
	}
	return r
}

// onKinesis injects f into op of role's stream.
func onKinesis(op, role string, f faultproxy.Fault) func(*world) {
	return func(w *world) { w.kinesis.Inject(rule(w, op, role, f)) }
}

// onCloudWatch injects f into every GetMetricData call.
func onCloudWatch(f faultproxy.Fault) func(*world) {
	return func(w *world) { w.cw.Inject(faultproxy.Rule{Operation: "GetMetricData", Fault: f}) }
}

// rewriteRole rewrites the datapoints of role's stream in every answer.
func rewriteRole(name, role string, rewrite func(*faultproxy.Series) bool) func(*world) {
	return func(w *world) {
		target := w.stream(role).name
		onCloudWatch(faultproxy.RewriteMetricData(name, func(s *faultproxy.Series) bool {
			if s.Stream != target {
				return true
			}
			return rewrite(s)
		}))(w)
	}
}

var scenarios = []scenario{
	{name: "no fault", alerts: map[string]int{}},

	// Kinesis answers errors to one stream's describe: that stream waits,
	// the others are served, one aws_error alert.
	{name: "DescribeStreamSummary 500", inject: onKinesis("DescribeStreamSummary", "hot", faultproxy.ServerError()),
		affects: []string{"hot"}, alerts: map[string]int{"aws_error/hot": 1}},
	{name: "DescribeStreamSummary ThrottlingException", inject: onKinesis("DescribeStreamSummary", "idle", faultproxy.Throttling("ThrottlingException")),
		affects: []string{"idle"}, alerts: map[string]int{"aws_error/idle": 1}},
	{name: "DescribeStreamSummary LimitExceededException", inject: onKinesis("DescribeStreamSummary", "steady", faultproxy.LimitExceeded()),
		affects: []string{"steady"}, alerts: map[string]int{"aws_error/steady": 1}},
	{name: "DescribeStreamSummary connection dropped", inject: onKinesis("DescribeStreamSummary", "hot", faultproxy.Drop()),
		affects: []string{"hot"}, alerts: map[string]int{"aws_error/hot": 1}},
	{name: "DescribeStreamSummary truncated body", inject: onKinesis("DescribeStreamSummary", "idle", faultproxy.Truncate()),
		affects: []string{"idle"}, alerts: map[string]int{"aws_error/idle": 1}},
	{name: "Kinesis slow (50 ms a call)", inject: func(w *world) {
		w.kinesis.Inject(rule(w, "", "hot", faultproxy.Delay(50*time.Millisecond)))
		w.kinesis.Inject(rule(w, "", "idle", faultproxy.Delay(50*time.Millisecond)))
	}, affects: []string{"hot", "idle"}, alerts: map[string]int{}},
	{name: "ListTagsForStream 500 after a restart", inject: onKinesis("ListTagsForStream", "hot", faultproxy.ServerError()),
		affects: []string{"hot"}, restartEvery: 1000, alerts: map[string]int{"aws_error/hot": 1}},

	// UpdateShardCount refused or lost.
	{name: "UpdateShardCount LimitExceededException (quota spent)", inject: onKinesis("UpdateShardCount", "hot", faultproxy.LimitExceeded()),
		affects: []string{"hot"}, alerts: map[string]int{"quota_exhausted/hot": 1}},
	{name: "UpdateShardCount ResourceInUseException", inject: onKinesis("UpdateShardCount", "hot", faultproxy.ResourceInUse()),
		affects: []string{"hot"}, alerts: map[string]int{}},
	{name: "UpdateShardCount 500", inject: onKinesis("UpdateShardCount", "hot", faultproxy.ServerError()),
		affects: []string{"hot"}, alerts: map[string]int{"scale_failed/hot": 1}},
	// Two hours of ambiguous failures: each attempt stays counted against
	// the quota although the stream never changed, so that when the fault
	// clears the daemon believes the quota spent for a day.
	{name: "UpdateShardCount 500 for two hours", inject: onKinesis("UpdateShardCount", "hot", faultproxy.ServerError()),
		faultCycles: 120, affects: []string{"hot"}, alerts: map[string]int{"scale_failed/hot": 1}},
	{name: "UpdateShardCount connection dropped after it took effect", inject: dropFirstAttempt,
		affects: []string{"hot"}, alerts: map[string]int{}},
	{name: "UpdateShardCount truncated answer after it took effect", inject: onKinesis("UpdateShardCount", "hot", faultproxy.Truncate()),
		affects: []string{"hot"}, alerts: map[string]int{}},
	{name: "UpdateShardCount slow (300 ms)", inject: onKinesis("UpdateShardCount", "", faultproxy.Delay(300*time.Millisecond)),
		alerts: map[string]int{}},
	{name: "AddTagsToStream 500, restart every 3 cycles", inject: onKinesis("AddTagsToStream", "hot", faultproxy.ServerError()),
		affects: []string{"hot"}, restartEvery: 3, alerts: nil},

	// CloudWatch fails the batched call: every stream's data is unknown.
	{name: "GetMetricData 500", inject: onCloudWatch(faultproxy.ServerError()), dataFault: true,
		alerts: map[string]int{"aws_error/all streams": 1}},
	{name: "GetMetricData Throttling", inject: onCloudWatch(faultproxy.Throttling("Throttling")), dataFault: true,
		alerts: map[string]int{"aws_error/all streams": 1}},
	{name: "GetMetricData connection dropped", inject: onCloudWatch(faultproxy.Drop()), dataFault: true,
		alerts: map[string]int{"aws_error/all streams": 1}},
	{name: "GetMetricData truncated body", inject: onCloudWatch(faultproxy.Truncate()), dataFault: true,
		alerts: map[string]int{"aws_error/all streams": 1}},
	{name: "GetMetricData slow (200 ms)", inject: onCloudWatch(faultproxy.Delay(200 * time.Millisecond)), alerts: map[string]int{}},

	// CloudWatch answers, but with datapoints missing.
	{name: "CloudWatch: no datapoints for idle", dataFault: true, affects: []string{"idle"}, alerts: map[string]int{},
		inject: rewriteRole("no datapoints", "idle", func(s *faultproxy.Series) bool { s.Points = nil; return true })},
	{name: "CloudWatch: idle's results left out", dataFault: true, affects: []string{"idle"}, alerts: map[string]int{},
		inject: rewriteRole("results left out", "idle", func(*faultproxy.Series) bool { return false })},
	{name: "CloudWatch: every other minute of idle missing", dataFault: true, affects: []string{"idle"}, alerts: map[string]int{},
		inject: rewriteRole("partial datapoints", "idle", func(s *faultproxy.Series) bool {
			s.Points = slices.DeleteFunc(s.Points, func(p faultproxy.Point) bool { return p.At.Minute()%2 == 1 })
			s.StatusCode = "PartialData"
			return true
		})},
	{name: "CloudWatch: idle's IncomingBytes missing", dataFault: true, affects: []string{"idle"}, alerts: map[string]int{},
		inject: rewriteRole("IncomingBytes missing", "idle", func(s *faultproxy.Series) bool {
			if s.Metric == "IncomingBytes" {
				s.Points = nil
			}
			return true
		})},
	{name: "CloudWatch: reader's GetRecords.Bytes missing", dataFault: true, affects: []string{"reader"}, alerts: map[string]int{},
		inject: rewriteRole("GetRecords.Bytes missing", "reader", func(s *faultproxy.Series) bool {
			if s.Metric == "GetRecords.Bytes" {
				s.Points = nil
			}
			return true
		})},

	// CloudWatch answers with figures that are not data.
	{name: "CloudWatch: NaN values for steady", dataFault: true, affects: []string{"steady"},
		alerts: map[string]int{"at_max_shards/steady": 0},
		inject: rewriteRole("NaN values", "steady", func(s *faultproxy.Series) bool {
			for i := range s.Points {
				s.Points[i].Value = math.NaN()
			}
			return true
		})},
	{name: "CloudWatch: negative values for steady", dataFault: true, affects: []string{"steady"}, alerts: map[string]int{},
		inject: rewriteRole("negative values", "steady", func(s *faultproxy.Series) bool {
			for i := range s.Points {
				s.Points[i].Value = -1
			}
			return true
		})},

	// SNS down: alerts are lost, scaling goes on.
	{name: "SNS Publish 500", inject: func(w *world) { w.sns.Inject(faultproxy.Rule{Operation: "Publish", Fault: faultproxy.ServerError()}) },
		alerts: map[string]int{}},
	{name: "SNS Publish Throttling", inject: func(w *world) {
		w.sns.Inject(faultproxy.Rule{Operation: "Publish", Fault: faultproxy.Throttling("Throttling")})
	}, alerts: map[string]int{}},

	// Everything at once, intermittently: a third of all calls fail one way
	// or another. Alerts are not checked: an intermittent fault is many
	// episodes.
	{name: "intermittent mix on every call", dataFault: true, alerts: nil, inject: injectMix},
}

// dropFirstAttempt drops the connection of the first attempt of each of
// hot's UpdateShardCount calls after kinesis passed it on, and lets the SDK's
// retry through: the call took effect, and the retry meets the stream
// UPDATING.
func dropFirstAttempt(w *world) {
	n := 0
	r := rule(w, "UpdateShardCount", "hot", faultproxy.DropAfterForward())
	r.Match = func(faultproxy.Request) bool { n++; return n%2 == 1 }
	w.kinesis.Inject(r)
}

// injectMix fails about a third of all calls, with a fixed seed, in each of
// the ways the proxy knows.
func injectMix(w *world) {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(6, 6))
	chance := func(p float64) func(faultproxy.Request) bool {
		return func(faultproxy.Request) bool {
			mu.Lock()
			defer mu.Unlock()
			return rng.Float64() < p
		}
	}
	kinesisFaults := []faultproxy.Fault{faultproxy.ServerError(), faultproxy.Throttling("ThrottlingException"),
		faultproxy.LimitExceeded(), faultproxy.Drop(), faultproxy.Truncate(), faultproxy.Delay(20 * time.Millisecond)}
	// Not UpdateShardCount and AddTagsToStream: faults there are scenarios
	// of their own, with known bugs.
	for _, f := range kinesisFaults {
		match := chance(0.06)
		w.kinesis.Inject(faultproxy.Rule{Fault: f, Match: func(r faultproxy.Request) bool {
			return r.Operation != "UpdateShardCount" && r.Operation != "AddTagsToStream" && match(r)
		}})
	}
	partial := faultproxy.RewriteMetricData("partial datapoints", func(s *faultproxy.Series) bool {
		s.Points = slices.DeleteFunc(s.Points, func(p faultproxy.Point) bool { return p.At.Minute()%3 == 0 })
		return true
	})
	for _, f := range []faultproxy.Fault{faultproxy.ServerError(), faultproxy.Throttling("Throttling"), faultproxy.Drop(), faultproxy.Truncate(), partial} {
		w.cw.Inject(faultproxy.Rule{Fault: f, Match: chance(0.08)})
	}
	w.sns.Inject(faultproxy.Rule{Fault: faultproxy.ServerError(), Match: chance(0.3)})
}

// result is one scenario's figures.
type result struct {
	name                      string
	injected, cyclesRun       int
	calls, accepted, restarts int
	alerts                    int
	wrong                     int
	phantom                   int
	converged                 bool
	verdict                   string
}

// TestFaults runs every scenario against awsfake.
func TestFaults(t *testing.T) { runScenarios(t, scenarios, onFake) }

// TestFaultsOnKinesisMock runs a few scenarios against kinesis-mock, with
// fewer streams and cycles: the emulator is slow.
func TestFaultsOnKinesisMock(t *testing.T) {
	var subset []scenario
	for _, sc := range scenarios {
		roles, ok := mockRoles[sc.name]
		if !ok {
			continue
		}
		sc.roles = roles
		subset = append(subset, sc)
	}
	runScenarios(t, subset, onMock)
}

// mockRoles are the scenarios run against kinesis-mock, with their streams.
var mockRoles = map[string][]string{
	"no fault":                  {"hot", "steady"},
	"DescribeStreamSummary 500": {"hot", "steady"},
	"UpdateShardCount 500":      {"hot", "steady"},
	"UpdateShardCount connection dropped after it took effect": {"hot", "steady"},
	"GetMetricData 500": {"hot", "steady"},
	"CloudWatch: every other minute of idle missing": {"idle", "steady"},
}

func runScenarios(t *testing.T, list []scenario, p plan) {
	strict := os.Getenv("FAULTTEST_STRICT") != ""
	var mu sync.Mutex
	var results []result
	t.Cleanup(func() {
		sort.Slice(results, func(i, j int) bool { return indexOf(results[i].name) < indexOf(results[j].name) })
		var b strings.Builder
		fmt.Fprintf(&b, "\nbackend %s, %d cycles a scenario, fault from cycle %d to %d\n", p.backend, p.cycles, p.faultFrom, p.faultTo)
		b.WriteString("| scenario | faults injected | cycles | UpdateShardCount calls (accepted) | phantom calls | alerts in fault phase | wrong actions | converged | result |\n|---|---|---|---|---|---|---|---|---|\n")
		tot := result{}
		for _, r := range results {
			fmt.Fprintf(&b, "| %s | %d | %d | %d (%d) | %d | %d | %d | %v | %s |\n", r.name, r.injected, r.cyclesRun, r.calls, r.accepted, r.phantom, r.alerts, r.wrong, r.converged, r.verdict)
			tot.injected += r.injected
			tot.cyclesRun += r.cyclesRun
			tot.wrong += r.wrong
		}
		fmt.Fprintf(&b, "| **total** | %d | %d | | | | %d | | |\n", tot.injected, tot.cyclesRun, tot.wrong)
		t.Log(b.String())
	})
	// Scenarios wait on I/O more than they compute: run several at once,
	// more than -parallel's default of GOMAXPROCS would.
	sem := make(chan struct{}, concurrentScenarios)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, sc := range list {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t.Run(sc.name, func(t *testing.T) { runChecked(t, sc, p, strict, &mu, &results) })
		})
	}
}

// concurrentScenarios is how many scenarios run at once.
const concurrentScenarios = 12

// runChecked runs a scenario, records its figures and turns its problems
// into a failure, or into a skip for a known bug.
func runChecked(t *testing.T, sc scenario, p plan, strict bool, mu *sync.Mutex, results *[]result) {
	r, problems := runScenario(t, sc, p)
	switch {
	case len(problems) == 0 && sc.bug != "":
		r.verdict = "passes: bug " + sc.bug + " fixed?"
		t.Errorf("scenario is marked with known bug %s but passes: remove the mark", sc.bug)
	case len(problems) == 0:
		r.verdict = "ok"
	case sc.bug != "" && !strict:
		r.verdict = "known bug " + sc.bug
	default:
		r.verdict = "FAIL"
	}
	mu.Lock()
	*results = append(*results, r)
	mu.Unlock()
	if len(problems) == 0 {
		return
	}
	msg := fmt.Sprintf("%d problems:\n  %s", len(problems), strings.Join(problems, "\n  "))
	if sc.bug != "" && !strict {
		t.Skipf("known bug %s (FAULTTEST_STRICT=1 fails on it): %s", sc.bug, msg)
	}
	t.Error(msg)
}

func indexOf(name string) int {
	return slices.IndexFunc(scenarios, func(s scenario) bool { return s.name == name })
}

// runScenario runs a scenario and returns its figures and every broken rule.
func runScenario(t *testing.T, sc scenario, p plan) (result, []string) {
	w := newWorld(t, p.backend, sc.roles)
	faultFrom, faultTo, cycles := p.faultFrom, p.faultTo, p.cycles
	if sc.faultCycles > 0 {
		faultTo = faultFrom + sc.faultCycles
		cycles = max(cycles, faultTo+p.cycles-p.faultTo)
	}
	affected := func(s *simStream) bool { return len(sc.affects) == 0 || slices.Contains(sc.affects, s.role) }
	var problems []string
	for w.cycle < cycles {
		i := w.cycle
		inFault := sc.inject != nil && i >= faultFrom && i < faultTo
		switch {
		case i == faultFrom && sc.inject != nil:
			sc.inject(w)
		case i == faultTo:
			w.kinesis.Clear()
			w.cw.Clear()
			w.sns.Clear()
		}
		if inFault && sc.restartEvery > 0 && (i-faultFrom)%sc.restartEvery == 0 {
			w.restart()
		}
		outs := w.step(func(s *simStream) bool { return inFault && sc.dataFault && affected(s) })
		if len(outs) != len(w.streams) {
			problems = append(problems, fmt.Sprintf("cycle %d: outcomes for %d of %d streams", i, len(outs), len(w.streams)))
		}
		for _, o := range outs {
			s := w.byName[o.Stream]
			if o.Err != nil && !errors.Is(o.Err, policy.ErrStreamBusy) && !(inFault && affected(s)) {
				problems = append(problems, fmt.Sprintf("cycle %d: %s not served: %v", i, s.role, o.Err))
			}
		}
	}

	r := result{name: sc.name, cyclesRun: w.cycle, restarts: w.restarts, converged: true, wrong: len(w.wrong)}
	for _, p := range []*faultproxy.Proxy{w.kinesis, w.cw, w.sns} {
		r.injected += p.InjectedTotal()
	}
	for _, c := range w.kinesis.Calls() {
		if c.Request.Operation == "UpdateShardCount" {
			r.calls++
			if c.Accepted() {
				r.accepted++
			}
		}
	}
	for _, s := range w.streams {
		w.checkTags(s, t0.Add(time.Duration(w.cycle-1)*time.Minute))
	}
	r.wrong, r.phantom = len(w.wrong), w.phantom
	problems = append(problems, w.wrong...)
	for _, s := range w.streams {
		if s.shards != s.want {
			r.converged = false
			problems = append(problems, fmt.Sprintf("%s ended with %d shards, want %d", s.role, s.shards, s.want))
		}
	}

	counts := map[string]int{}
	for _, a := range w.alerts {
		if a.cycle < faultFrom || a.cycle >= faultTo || a.event == string(policy.AlertScaledUp) || a.event == string(policy.AlertScaledDown) {
			continue
		}
		counts[a.event+"/"+a.role]++
		r.alerts++
	}
	if sc.alerts != nil {
		for key, want := range sc.alerts {
			if counts[key] != want {
				problems = append(problems, fmt.Sprintf("%d %s alerts during the fault, want %d", counts[key], key, want))
			}
		}
		for key, n := range counts {
			if _, ok := sc.alerts[key]; !ok && n > 1 {
				problems = append(problems, fmt.Sprintf("%d %s alerts during the fault, want at most 1", n, key))
			}
		}
	}
	t.Logf("%s on %s: %d faults injected, %d cycles, %d restarts, UpdateShardCount %d (%d accepted), phantom calls %d, alerts in fault phase %v, wrong actions %d, final %s, cycle time max %s",
		sc.name, p.backend, r.injected, r.cyclesRun, w.restarts, r.calls, r.accepted, r.phantom, counts, r.wrong, finals(w), slices.Max(w.cycleTimes).Round(time.Millisecond))
	return r, problems
}

func finals(w *world) string {
	var out []string
	for _, s := range w.streams {
		out = append(out, fmt.Sprintf("%s=%d", s.role, s.shards))
	}
	return strings.Join(out, " ")
}
