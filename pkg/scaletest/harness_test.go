package scaletest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/adapters"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/awsclient"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/notify"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/awsfake"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// childEnv makes the test binary serve awsfake instead of running tests.
const childEnv = "SCALETEST_AWSFAKE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		serveFake()
		return
	}
	emulator.IsolateSDK()
	os.Exit(m.Run())
}

// serveFake serves awsfake with AWS's rate limits on a free port, writes its
// URL to stdout and serves until stdin closes.
func serveFake() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fake := awsfake.New(awsfake.Options{ReshardDuration: 2 * time.Second})
	go func() { _ = fake.Serve(l) }()
	fmt.Printf("URL http://%s\n", l.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// remoteFake is awsfake in a child process.
type remoteFake struct {
	URL  string
	http *http.Client
}

// startFake starts awsfake in a child process that ends with the test.
func startFake(tb testing.TB) *remoteFake {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start awsfake: %v", err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			tb.Errorf("awsfake: %v", err)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "URL ") {
		tb.Fatalf("awsfake did not say its URL: %q %v", line, err)
	}
	return &remoteFake{URL: strings.TrimSpace(strings.TrimPrefix(line, "URL ")), http: &http.Client{Timeout: time.Minute}}
}

func (f *remoteFake) post(tb testing.TB, path string, body any) {
	tb.Helper()
	data, _ := json.Marshal(body)
	resp, err := f.http.Post(f.URL+"/_awsfake/"+path, "application/json", bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("awsfake %s: %s", path, resp.Status)
	}
}

func (f *remoteFake) stats(tb testing.TB) map[string]awsfake.OpStats {
	tb.Helper()
	resp, err := f.http.Get(f.URL + "/_awsfake/stats")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]awsfake.OpStats
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// streamSpecs are n streams with a fixed mix of loads: most at what their
// shards carry (60-74 % of capacity: below the scale-up threshold, and too
// close to it for a scale-down to be worth a call), 1 % that need more
// shards, 2 % that need fewer, from a fixed seed.
func streamSpecs(n int) []awsfake.StreamSpec {
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	specs := make([]awsfake.StreamSpec, n)
	for i := range specs {
		shards := 1 << rng.IntN(4)
		u := 0.6 + 0.14*rng.Float64()
		switch r := rng.Float64(); {
		case r < 0.01:
			u = 0.9
		case r < 0.03:
			u = 0.05
		}
		specs[i] = awsfake.StreamSpec{Name: fmt.Sprintf("stream-%05d", i), Shards: shards,
			RecordsPerSecond: u * float64(shards) * policy.ShardWriteRecordsPerSecond}
	}
	return specs
}

func settings() policy.Settings {
	return policy.Settings{
		MinShards: 1, MaxShards: 64, ScaleUpThreshold: 0.75, ScaleDownThreshold: 0.25,
		ScaleUpAfter: 2 * time.Minute, ScaleDownAfter: 30 * time.Minute,
		CooldownUp: 5 * time.Minute, CooldownDown: time.Hour, MaxIteratorAge: 5 * time.Minute,
	}
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

// wired is the daemon's controller over the fake, built as the daemon builds
// it: SDK clients from awsclient.Load (the default configuration chain, the
// SDK's standard retryer), adapters from adapters.New, and the state cache's
// sweep running as the daemon runs it, from just before the first cycle.
type wired struct {
	ctrl  *controller.Controller
	cache *stream.Cache
	// made counts the calls the daemon made, by operation, as its call
	// observer sees them: once per call, however many attempts the SDK's
	// retryer sent.
	made *callCounter
	// started is when the daemon started; the controller's ticker fires
	// every poll interval after it, and a cycle that ends after a tick
	// starts the next at once, as time.Ticker keeps one tick waiting.
	started time.Time
	// ticks is how many ticks have been used.
	ticks int
}

// pollInterval is the daemon's default poll interval.
const pollInterval = time.Minute

// daemon wires the daemon's adapters to the fake and starts the cache's
// sweep, which stops when the test ends.
func daemon(tb testing.TB, url string, specs []awsfake.StreamSpec, log *zap.Logger) *wired {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	made := &callCounter{calls: map[string]int{}}
	clients, err := awsclient.Load(ctx, "us-east-1", awsclient.Endpoints{Kinesis: url, CloudWatch: url, SNS: url, DynamoDB: url},
		awsclient.WithCallObserver(made.observe))
	if err != nil {
		tb.Fatal(err)
	}
	a := adapters.New(clients, log)
	cs := make([]controller.StreamSpec, len(specs))
	for i, s := range specs {
		cs[i] = controller.StreamSpec{Name: s.Name, Settings: settings()}
	}
	deps := controller.Deps{
		Load: a.Load, Streams: a.Streams, History: a.Kinesis, ShardLoad: a.ShardLoad, Shards: a.Shards,
		Notifier: notify.New(clients.SNS, "arn:aws:sns:us-east-1:123456789012:alerts"), Clock: wallClock{},
	}
	w := &wired{cache: a.Streams, made: made, started: time.Now()}
	w.ctrl = controller.New(cs, deps, controller.Options{PollInterval: pollInterval, DedupWindow: time.Hour}, log)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Streams.Run(ctx)
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	return w
}

// cycle waits, as the controller's ticker does, until the next cycle is due
// and runs it.
func (w *wired) cycle(tb testing.TB, fake *remoteFake, budget time.Duration) cycleFigures {
	tb.Helper()
	if w.ticks > 0 {
		// The next tick after the last one used; ticks missed while a cycle
		// ran are dropped, but for the one the ticker keeps.
		tick := w.started.Add(time.Duration(w.ticks) * pollInterval)
		for tick.Add(pollInterval).Before(time.Now()) {
			tick = tick.Add(pollInterval)
			w.ticks++
		}
		time.Sleep(time.Until(tick))
	}
	w.ticks++
	at := time.Since(w.started)
	f := measureCycle(tb, fake, w, budget)
	f.at = at
	return f
}

// callCounter counts calls by operation.
type callCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *callCounter) observe(_, operation string, _ error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[operation]++
}

// take returns the counts and starts again.
func (c *callCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

// jsonLogger is the daemon's production logger, writing nowhere, so that
// logging costs what it costs in production.
func jsonLogger() *zap.Logger {
	ec := zap.NewProductionEncoderConfig()
	return zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(ec), zapcore.AddSync(io.Discard), zapcore.InfoLevel))
}

// peakHeap samples the heap until stop is called and returns the highest
// HeapInuse seen.
func peakHeap() (stop func() uint64) {
	var mu sync.Mutex
	var peak uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapInuse)
		mu.Unlock()
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			sample()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		sample()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// peakRSS is the process's peak resident set size from /proc/self/status,
// 0 where there is none.
func peakRSS() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb uint64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}

// cycleFigures are what one cycle did.
type cycleFigures struct {
	// at is when the cycle started, after the daemon started.
	at              time.Duration
	took            time.Duration
	decided, failed int
	// calls are the calls the fake received, SDK retries included; made are
	// the calls the daemon made.
	calls, made   map[string]int
	throttled     map[string]int
	errors        map[string]int
	maxPerSecond  map[string]int
	peakHeapBytes uint64
	// liveHeapBytes is the heap still in use after the cycle and a GC: what
	// the daemon keeps between cycles.
	liveHeapBytes uint64
	// peakRSSBytes is the process's peak resident memory so far (VmHWM).
	peakRSSBytes       uint64
	allocs, allocBytes uint64
}

// measureCycle runs one cycle within budget and returns its figures; the
// fake's counts are reset first.
func measureCycle(tb testing.TB, fake *remoteFake, w *wired, budget time.Duration) cycleFigures {
	fake.post(tb, "reset", nil)
	w.made.take()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := peakHeap()
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	started := time.Now()
	outs := w.ctrl.RunCycle(ctx)
	f := cycleFigures{took: time.Since(started)}
	cancel()
	f.peakHeapBytes = stop()
	runtime.ReadMemStats(&after)
	f.allocs, f.allocBytes = after.Mallocs-before.Mallocs, after.TotalAlloc-before.TotalAlloc
	runtime.GC()
	var live runtime.MemStats
	runtime.ReadMemStats(&live)
	f.liveHeapBytes, f.peakRSSBytes = live.HeapAlloc, peakRSS()
	for _, o := range outs {
		if o.Err == nil {
			f.decided++
			continue
		}
		if f.failed < 3 {
			tb.Logf("%s failed: %v", o.Stream, o.Err)
		}
		f.failed++
	}
	f.made = w.made.take()
	f.calls, f.throttled, f.errors, f.maxPerSecond = map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	for op, st := range fake.stats(tb) {
		f.calls[op], f.throttled[op], f.errors[op], f.maxPerSecond[op] = st.Calls, st.Throttled, st.Failed, st.MaxPerSecond
	}
	return f
}
