package notify

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// fakeSNS records Publish inputs and answers with a per-test error.
type fakeSNS struct {
	mu     sync.Mutex
	inputs []*sns.PublishInput
	err    error
}

var _ snsAPI = (*fakeSNS)(nil)

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sns.PublishOutput{MessageId: aws.String("m-1")}, nil
}

const topic = "arn:aws:sns:eu-west-1:123456789012:alerts"

func TestSNSNotify(t *testing.T) {
	a := alerts()[0].alert
	fake := &fakeSNS{}
	if err := New(fake, topic).Notify(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if len(fake.inputs) != 1 {
		t.Fatalf("%d publishes", len(fake.inputs))
	}
	in := fake.inputs[0]
	if aws.ToString(in.TopicArn) != topic || aws.ToString(in.Subject) != Subject(a) || aws.ToString(in.Message) != Body(a) {
		t.Errorf("input %+v", in)
	}
	for name, want := range map[string]string{"event": "scaled_up", "stream": "clicks"} {
		v := in.MessageAttributes[name]
		if aws.ToString(v.DataType) != "String" || aws.ToString(v.StringValue) != want {
			t.Errorf("attribute %s = %s %q, want String %q", name, aws.ToString(v.DataType), aws.ToString(v.StringValue), want)
		}
	}
	if in.MessageGroupId != nil || in.MessageDeduplicationId != nil {
		t.Error("FIFO fields on a standard topic")
	}
}

// TestSNSNotifyScope checks the attributes that tell a stream's alerts from
// the daemon's: a configuration alert carries no stream, so a stream named
// "configuration" keeps alerts of its own.
func TestSNSNotifyScope(t *testing.T) {
	tests := []struct {
		name       string
		alert      policy.Alert
		wantScope  string
		wantStream string // "" for no stream attribute
	}{
		{
			name:      "configuration rejected",
			alert:     policy.Alert{Kind: AlertConfigRejected, At: now, Err: "config.yaml: defaults.max_shards: lots"},
			wantScope: ScopeDaemon,
		},
		{
			name:      "a stream named configuration",
			alert:     policy.Alert{Kind: policy.AlertThrottling, Stream: "configuration", At: now},
			wantScope: ScopeStream, wantStream: "configuration",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeSNS{}
			if err := New(fake, topic+".fifo").Notify(context.Background(), tt.alert); err != nil {
				t.Fatal(err)
			}
			in := fake.inputs[0]
			if got := aws.ToString(in.MessageAttributes[AttributeScope].StringValue); got != tt.wantScope {
				t.Errorf("scope %q, want %q", got, tt.wantScope)
			}
			stream, ok := in.MessageAttributes[AttributeStream]
			if tt.wantStream == "" && ok {
				t.Errorf("a daemon alert carries stream %q", aws.ToString(stream.StringValue))
			}
			if tt.wantStream != "" && aws.ToString(stream.StringValue) != tt.wantStream {
				t.Errorf("stream %q, want %q", aws.ToString(stream.StringValue), tt.wantStream)
			}
			if tt.wantScope == ScopeDaemon && (aws.ToString(in.MessageGroupId) != ScopeDaemon || strings.Contains(aws.ToString(in.Subject), "configuration:")) {
				t.Errorf("group %q, subject %q", aws.ToString(in.MessageGroupId), aws.ToString(in.Subject))
			}
		})
	}
}

func TestSNSNotifyFIFO(t *testing.T) {
	fake := &fakeSNS{}
	n := New(fake, topic+".fifo")
	a := policy.Alert{Kind: policy.AlertAWSError, Stream: "all streams", At: now}
	b := policy.Alert{Kind: policy.AlertAWSError, Stream: "all streams", At: now.Add(1)}
	for _, x := range []policy.Alert{a, b} {
		if err := n.Notify(context.Background(), x); err != nil {
			t.Fatal(err)
		}
	}
	g0, g1 := aws.ToString(fake.inputs[0].MessageGroupId), aws.ToString(fake.inputs[1].MessageGroupId)
	d0, d1 := aws.ToString(fake.inputs[0].MessageDeduplicationId), aws.ToString(fake.inputs[1].MessageDeduplicationId)
	if g0 == "" || g0 != g1 || strings.Contains(g0, " ") {
		t.Errorf("groups %q %q: want one per stream, without spaces", g0, g1)
	}
	if d0 == "" || d0 == d1 || len(d0) > 128 {
		t.Errorf("dedup ids %q %q", d0, d1)
	}
}

func TestSNSNotifyEmptyAttributes(t *testing.T) {
	fake := &fakeSNS{}
	if err := New(fake, topic).Notify(context.Background(), policy.Alert{}); err != nil {
		t.Fatal(err)
	}
	for name, v := range fake.inputs[0].MessageAttributes {
		if aws.ToString(v.StringValue) == "" {
			t.Errorf("attribute %s is empty: SNS refuses that", name)
		}
	}
}

func TestSNSNotifyError(t *testing.T) {
	cause := errors.New("AuthorizationError")
	err := New(&fakeSNS{err: cause}, topic).Notify(context.Background(), alerts()[0].alert)
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), `publish scaled_up alert for "clicks"`) {
		t.Errorf("error %v", err)
	}
}

func TestLogNotify(t *testing.T) {
	tests := []struct {
		name  string
		alert policy.Alert
		level zapcore.Level
	}{
		{name: "scaled", alert: alerts()[0].alert, level: zapcore.InfoLevel},
		{name: "failure", alert: alerts()[3].alert, level: zapcore.WarnLevel},
		{name: "aws error", alert: alerts()[7].alert, level: zapcore.WarnLevel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			if err := NewLog(zap.New(core)).Notify(context.Background(), tt.alert); err != nil {
				t.Fatal(err)
			}
			entries := logs.All()
			if len(entries) != 1 || entries[0].Level != tt.level {
				t.Fatalf("entries %+v", entries)
			}
			fields := entries[0].ContextMap()
			if fields["event"] != string(tt.alert.Kind) || fields["stream"] != tt.alert.Stream || fields["subject"] != Subject(tt.alert) {
				t.Errorf("fields %v", fields)
			}
			if tt.alert.Err != "" && fields["error"] != tt.alert.Err {
				t.Errorf("error field %v", fields["error"])
			}
		})
	}
}

func TestMulti(t *testing.T) {
	failing := &fakeSNS{err: errors.New("down")}
	ok := &fakeSNS{}
	err := Multi{New(failing, topic), New(ok, topic)}.Notify(context.Background(), alerts()[0].alert)
	if err == nil || len(ok.inputs) != 1 || len(failing.inputs) != 1 {
		t.Errorf("error %v, publishes %d and %d", err, len(failing.inputs), len(ok.inputs))
	}
}
