package emulator

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// readyTimeout bounds how long an emulator may take to answer after it is started.
	readyTimeout = 30 * time.Second
	// readyPollInterval is the pause between two readiness probes.
	readyPollInterval = 50 * time.Millisecond
	// stopGrace is how long an emulator has to exit after SIGTERM before it gets SIGKILL.
	stopGrace = 5 * time.Second
	// launchAttempts bounds the tries when an emulator exits during start-up because
	// another process took its free port first.
	launchAttempts = 3
	// outputTailBytes is how much of an emulator's output an error message shows.
	outputTailBytes = 4 << 10
)

// process is an emulator running as a child process, with its output in a file.
type process struct {
	name    string
	cmd     *exec.Cmd
	workDir string
	logPath string

	exited  chan struct{}
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// startProcess starts cmd with its output in logPath and returns once it is running.
func startProcess(name, workDir, logPath string, cmd *exec.Cmd) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s output file: %w", name, err)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Dir = workDir
	setParentDeathSignal(cmd)

	// The parent-death signal fires when the thread that started the child exits; keep
	// the start on one thread, which the runtime then keeps for the life of the process.
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}

	p := &process{name: name, cmd: cmd, workDir: workDir, logPath: logPath, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// waitReady polls url until it answers 200 OK, the process exits or timeout passes.
func (p *process) waitReady(url string, timeout time.Duration) error {
	client := &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(readyPollInterval)
	defer tick.Stop()
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited during start-up (%v); output:\n%s", p.name, p.waitErr, p.outputTail())
		case <-deadline.C:
			return fmt.Errorf("%s did not answer %s within %s; output:\n%s", p.name, url, timeout, p.outputTail())
		case <-tick.C:
			// A port taken between freePorts and the emulator's listen: no
			// need to wait out the timeout for it (launch tries again).
			if out := p.outputTail(); isPortTaken(out) {
				return fmt.Errorf("%s could not listen: a port was taken; output:\n%s", p.name, out)
			}
		}
	}
}

// stop sends SIGTERM, then SIGKILL after stopGrace, waits for the exit and removes the
// work directory. It is safe to call more than once.
func (p *process) stop() error {
	p.stopOnce.Do(func() {
		p.stopErr = p.terminate()
		if err := os.RemoveAll(p.workDir); err != nil && p.stopErr == nil {
			p.stopErr = fmt.Errorf("remove %s work directory: %w", p.name, err)
		}
	})
	return p.stopErr
}

// hasExited reports whether the process has exited.
func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// terminate sends SIGTERM, then SIGKILL after stopGrace, and waits for the exit.
func (p *process) terminate() error {
	if p.hasExited() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send SIGTERM to %s (pid %d): %w", p.name, p.cmd.Process.Pid, err)
	}
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	select {
	case <-p.exited:
		return nil
	case <-grace.C:
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send SIGKILL to %s (pid %d): %w", p.name, p.cmd.Process.Pid, err)
	}
	<-p.exited
	return nil
}

// outputTail returns the last outputTailBytes of the process's output; the output is
// gone once stop has removed the work directory.
func (p *process) outputTail() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	if len(data) > outputTailBytes {
		data = data[len(data)-outputTailBytes:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
		data = append([]byte("...\n"), data...)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return "(no output)"
	}
	return string(data)
}

// launch starts an emulator with free ports, retrying when it exits during start-up.
// command builds the command for a work directory and the chosen ports; ready returns
// the URL that answers 200 OK once the emulator serves requests on those ports.
func launch(name string, portCount int, command func(workDir string, ports []int) *exec.Cmd, ready func(ports []int) string, prepare func(workDir string) error) (*process, []int, error) {
	workDir, err := os.MkdirTemp("", name+"-*")
	if err != nil {
		return nil, nil, fmt.Errorf("create %s work directory: %w", name, err)
	}
	if prepare != nil {
		if err := prepare(workDir); err != nil {
			os.RemoveAll(workDir)
			return nil, nil, err
		}
	}
	var errs []error
	for attempt := 1; attempt <= launchAttempts; attempt++ {
		ports, err := freePorts(portCount)
		if err != nil {
			errs = append(errs, err)
			break
		}
		logPath := filepath.Join(workDir, fmt.Sprintf("output-%d.log", attempt))
		p, err := startProcess(name, workDir, logPath, command(workDir, ports))
		if err != nil {
			errs = append(errs, err)
			break
		}
		err = p.waitReady(ready(ports), readyTimeout)
		if err == nil {
			return p, ports, nil
		}
		errs = append(errs, err)
		// Another process may have taken a port between freePorts and the emulator's
		// listen: only that failure is worth another try. kinesis-mock does not
		// always exit when its second (TLS) port is taken: it keeps running,
		// never ready, so its output is what says so.
		portTaken := isPortTaken(p.outputTail())
		if termErr := p.terminate(); termErr != nil {
			errs = append(errs, termErr)
		}
		if !portTaken {
			break
		}
	}
	os.RemoveAll(workDir)
	return nil, nil, fmt.Errorf("launch %s: %w", name, errors.Join(errs...))
}

// isPortTaken reports whether an emulator's output says that its port was in use:
// node says EADDRINUSE, Go says "address already in use".
func isPortTaken(output string) bool {
	return strings.Contains(output, "EADDRINUSE") || strings.Contains(output, "address already in use")
}

// freePorts returns n distinct TCP ports that were free on 127.0.0.1 a moment ago.
func freePorts(n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// childEnv returns the environment without the variables for which drop returns true,
// followed by set.
func childEnv(drop func(key string) bool, set map[string]string) []string {
	env := make([]string, 0, len(os.Environ())+len(set))
	for _, kv := range os.Environ() {
		key, _, _ := strings.Cut(kv, "=")
		if _, overridden := set[key]; overridden || drop(key) {
			continue
		}
		env = append(env, kv)
	}
	for key, value := range set {
		env = append(env, key+"="+value)
	}
	return env
}

// endpoint returns the HTTP endpoint URL of a port on 127.0.0.1.
func endpoint(port int) string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
