package emulator

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Kumo is a running kumo, which serves CloudWatch, SNS, SQS and more on one endpoint.
type Kumo struct {
	// Endpoint is the HTTP endpoint URL, "http://127.0.0.1:PORT".
	Endpoint string

	proc *process
}

// KumoBinary returns the path of the kumo binary in Dir.
func KumoBinary() string {
	return filepath.Join(Dir(), "bin", "kumo")
}

// LaunchKumo starts kumo on 127.0.0.1 and returns once it answers. The caller stops it
// with Stop; TestMain is the place for this, tests use [StartKumo] or [SharedKumo]. The
// error wraps ErrNotInstalled when kumo is missing.
func LaunchKumo() (*Kumo, error) {
	binary := KumoBinary()
	if err := requireFiles("kumo", binary); err != nil {
		return nil, err
	}
	command := func(_ string, ports []int) *exec.Cmd {
		cmd := exec.Command(binary, "serve", "--host", "127.0.0.1", "--port", strconv.Itoa(ports[0]))
		// Without KUMO_DATA_DIR kumo keeps everything in memory.
		cmd.Env = childEnv(func(key string) bool { return strings.HasPrefix(key, "KUMO_") }, map[string]string{
			"AWS_DEFAULT_REGION": Region,
			"KUMO_LOG_LEVEL":     "warn",
		})
		return cmd
	}
	ready := func(ports []int) string { return endpoint(ports[0]) + "/health" }

	proc, ports, err := launch("kumo", 1, command, ready, nil)
	if err != nil {
		return nil, err
	}
	return &Kumo{Endpoint: endpoint(ports[0]), proc: proc}, nil
}

// StartKumo starts kumo for one test and stops it when the test ends. It skips the test
// when kumo is not installed, or fails it when $CI is set.
func StartKumo(tb testing.TB) *Kumo {
	tb.Helper()
	k, err := LaunchKumo()
	Require(tb, err)
	tb.Cleanup(func() {
		if err := k.Stop(); err != nil {
			tb.Errorf("stop kumo: %v", err)
		}
	})
	return k
}

// Stop stops kumo: SIGTERM, then SIGKILL if it has not exited within a few seconds. It
// is safe to call more than once.
func (k *Kumo) Stop() error {
	return k.proc.stop()
}

// Output returns the tail of kumo's standard output and error, while it runs: Stop
// removes them.
func (k *Kumo) Output() string {
	return k.proc.outputTail()
}

// CloudWatch returns a CloudWatch client for this kumo, with static credentials and
// region us-east-1. Request compression is off: kumo cannot read gzip bodies. optFns
// apply after those, for example to change the retryer.
func (k *Kumo) CloudWatch(optFns ...func(*cloudwatch.Options)) *cloudwatch.Client {
	endpoint := func(o *cloudwatch.Options) {
		o.BaseEndpoint = aws.String(k.Endpoint)
		o.DisableRequestCompression = true
	}
	return cloudwatch.NewFromConfig(AWSConfig(), append([]func(*cloudwatch.Options){endpoint}, optFns...)...)
}

// SNS returns an SNS client for this kumo, with static credentials and region
// us-east-1; optFns apply after those.
func (k *Kumo) SNS(optFns ...func(*sns.Options)) *sns.Client {
	endpoint := func(o *sns.Options) { o.BaseEndpoint = aws.String(k.Endpoint) }
	return sns.NewFromConfig(AWSConfig(), append([]func(*sns.Options){endpoint}, optFns...)...)
}

// SQS returns an SQS client for this kumo, with static credentials and region
// us-east-1; optFns apply after those.
func (k *Kumo) SQS(optFns ...func(*sqs.Options)) *sqs.Client {
	endpoint := func(o *sqs.Options) { o.BaseEndpoint = aws.String(k.Endpoint) }
	return sqs.NewFromConfig(AWSConfig(), append([]func(*sqs.Options){endpoint}, optFns...)...)
}
