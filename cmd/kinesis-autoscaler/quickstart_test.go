package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/cwtest"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// quickStart is what the README's quick start tells a newcomer to do: the
// commands of its sh blocks, in order, and the file of its yaml block.
type quickStart struct {
	commands []string
	config   string
}

// readQuickStart reads the fenced blocks of the README's "Quick start"
// section.
func readQuickStart(t *testing.T) quickStart {
	t.Helper()
	readme := readRepoFile(t, "README.md")
	_, section, ok := strings.Cut(readme, "\n## Quick start\n")
	if !ok {
		t.Fatal(`README.md has no "## Quick start" section`)
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	if !strings.Contains(section, "Save it as `config.yaml`") {
		t.Fatal("the quick start no longer says to save its configuration as config.yaml")
	}
	var qs quickStart
	fence := regexp.MustCompile("(?s)```(\\w+)\n(.*?)```")
	for _, m := range fence.FindAllStringSubmatch(section, -1) {
		switch m[1] {
		case "sh":
			for _, line := range strings.Split(m[2], "\n") {
				if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
					qs.commands = append(qs.commands, line)
				}
			}
		case "yaml":
			if qs.config != "" {
				t.Fatal("the quick start has two yaml blocks: which is config.yaml?")
			}
			qs.config = m[2]
		default:
			t.Fatalf("the quick start has a %q block this test does not know", m[1])
		}
	}
	if qs.config == "" || len(qs.commands) < 4 {
		t.Fatalf("quick start: %d commands and config %q: not the steps this test follows", len(qs.commands), qs.config)
	}
	return qs
}

// TestREADMEQuickStart follows the README's quick start as a newcomer would,
// from a fresh build: it runs its commands as written, in order, in a
// directory holding only the config file it gives, against the emulators.
// The newcomer's account has the stream the config lists and a busy stream
// to tag; the endpoints, the region of the emulators and the alert topic
// come from environment variables, as the configuration reference says they
// may. It ends with the daemon managing the tagged stream: scaled up, alerted,
// then stopped with SIGTERM.
func TestREADMEQuickStart(t *testing.T) {
	recordCalls(t)
	qs := readQuickStart(t)
	started := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// The account: a private kinesis-mock, so that discovery sees only the
	// newcomer's streams.
	km := emulator.StartKinesis(t, emulator.KinesisOptions{UpdateShardCountDuration: 500 * time.Millisecond})
	a := &acceptance{t: t, ctx: ctx, kinesis: km.Client(), cw: cwtest.New(t), kumo: kumo.Get(t)}
	k, cw, ku := a.kinesis, a.cw, a.kumo
	topic, err := ku.SNS().CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(emulator.UniqueName("quickstart"))})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	queue := ku.SubscribeQueue(ctx, t, aws.ToString(topic.TopicArn))
	for _, name := range []string{"clickstream", "orders"} {
		if _, err := k.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(1),
			StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned}}); err != nil {
			t.Fatalf("create stream %s: %v", name, err)
		}
		a.waitShards(name, 1)
	}
	a.load("orders", 5, 1, 0.9) // busy: 90 % of its shard's records

	// The newcomer's machine: a fresh build on PATH, an empty home, the
	// config file of the README.
	bin := buildDaemon(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(qs.config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	env := []string{
		"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + dir,
		"AWS_ACCESS_KEY_ID=" + emulator.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + emulator.SecretAccessKey,
		"AWS_REGION=" + emulator.Region, "AWS_DEFAULT_REGION=" + emulator.Region,
		"AWS_ENDPOINT_URL_KINESIS=" + km.Endpoint, // for the aws CLI
		"KINESIS_AUTOSCALER_AWS_REGION=" + emulator.Region,
		"KINESIS_AUTOSCALER_AWS_ENDPOINTS_KINESIS=" + km.Endpoint,
		"KINESIS_AUTOSCALER_AWS_ENDPOINTS_CLOUDWATCH=" + cw.URL,
		"KINESIS_AUTOSCALER_AWS_ENDPOINTS_SNS=" + ku.Endpoint,
		"KINESIS_AUTOSCALER_ALERTS_SNS_TOPIC_ARN=" + aws.ToString(topic.TopicArn),
		"KINESIS_AUTOSCALER_METRICS_LISTEN=" + addr,
	}

	var daemon *exec.Cmd
	var daemonLog bytes.Buffer
	for i, line := range qs.commands {
		args := strings.Fields(line)
		switch {
		case args[0] == "kinesis-autoscaler" && i == len(qs.commands)-1 && slices.Index(args, "run") == 1 && !slices.Contains(args, "--once"):
			// The daemon: the last step; it runs until stopped.
			daemon = exec.Command(bin, args[1:]...)
			daemon.Dir, daemon.Env = dir, env
			daemon.Stdout, daemon.Stderr = &daemonLog, &daemonLog
			if err := daemon.Start(); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
		case args[0] == "kinesis-autoscaler":
			cmd := exec.CommandContext(ctx, bin, args[1:]...) // the fresh build, first on the PATH
			cmd.Dir, cmd.Env = dir, env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("step %d, %s: %v\n%s", i+1, line, err, out)
			}
			t.Logf("step %d, %s: ok (%d bytes of output)", i+1, line, len(out))
		case args[0] == "aws":
			runAWS(ctx, t, k, dir, env, args)
		default:
			t.Fatalf("the quick start's command %q is not one this test knows how to run", line)
		}
	}
	if daemon == nil {
		t.Fatal("the quick start never starts the daemon (kinesis-autoscaler run --config ... as its last command)")
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = daemon.Process.Kill()
			<-exited
		}
	}()

	// The daemon manages the tagged stream: it scales it up and says so.
	a.waitShards("orders", 2)
	alert := ku.ReceiveOne(ctx, t, queue, 20*time.Second)
	if alert.MessageAttributes["event"].Value != "scaled_up" || alert.MessageAttributes["stream"].Value != "orders" {
		t.Errorf("alert %s for %s, want scaled_up for orders", alert.MessageAttributes["event"].Value, alert.MessageAttributes["stream"].Value)
	}
	code, body := httpGet("http://" + addr + "/metrics")
	if code != http.StatusOK || !strings.Contains(body, "kinesis_autoscaler_managed_streams 2") {
		t.Errorf("/metrics (%d) does not show 2 managed streams (clickstream listed, orders tagged)", code)
	}
	if err := daemon.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("daemon after SIGTERM: %v\n%s", err, daemonLog.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon still running 30 s after SIGTERM\n%s", daemonLog.String())
	}
	t.Logf("quick start followed in %s (emulators, build and every step)", time.Since(started).Round(100*time.Millisecond))
}

// runAWS runs an aws CLI command of the quick start: with the AWS CLI when
// it is installed, else the same call through the SDK (only the calls the
// quick start makes).
func runAWS(ctx context.Context, t *testing.T, k *kinesis.Client, dir string, env, args []string) {
	t.Helper()
	line := strings.Join(args, " ")
	if path, err := exec.LookPath("aws"); err == nil {
		cmd := exec.CommandContext(ctx, path, args[1:]...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Logf("%s: ok (AWS CLI)", line)
			return
		} else if !strings.Contains(string(out), "No module named") && !strings.Contains(string(out), "not found") {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	}
	flag := func(name string) string {
		for i, a := range args {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
		}
		t.Fatalf("%s: no %s", line, name)
		return ""
	}
	if len(args) < 3 || args[1] != "kinesis" || args[2] != "add-tags-to-stream" {
		t.Fatalf("%s: the AWS CLI is not installed and this test only knows kinesis add-tags-to-stream", line)
	}
	tags := map[string]string{}
	for _, kv := range strings.Split(flag("--tags"), ",") {
		key, value, _ := strings.Cut(kv, "=")
		tags[key] = value
	}
	if _, err := k.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String(flag("--stream-name")), Tags: tags}); err != nil {
		t.Fatalf("%s (through the SDK): %v", line, err)
	}
	t.Logf("%s: ok (through the SDK: no AWS CLI here)", line)
}

func httpGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
