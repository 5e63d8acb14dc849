package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/smithy-go/logging"
	"go.uber.org/zap/zapcore"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/awsclient"
)

// TestSDKLogIsJSON checks that what the SDK logs reaches the daemon's JSON
// log as JSON lines, through the clients awsclient builds.
func TestSDKLogIsJSON(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger("json", "debug", &buf)
	if err != nil {
		t.Fatal(err)
	}
	clients, err := awsclient.Load(context.Background(), "us-east-1", awsclient.Endpoints{},
		awsclient.WithLogger(sdkLogger{log: log}, sdkLogMode(zapcore.DebugLevel)))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []logging.Logger{
		clients.Kinesis.Options().Logger, clients.CloudWatch.Options().Logger,
		clients.SNS.Options().Logger, clients.DynamoDB.Options().Logger,
	} {
		l.Logf(logging.Warn, "Response has no supported checksum. Not validating response payload.")
	}
	if mode := clients.Kinesis.Options().ClientLogMode; !mode.IsRetries() {
		t.Errorf("client log mode %v at debug level, want retries logged", mode)
	}
	if sdkLogMode(zapcore.InfoLevel) != 0 {
		t.Error("the SDK logs more than its warnings at info level")
	}
	l := clients.Kinesis.Options().Logger
	l.Logf(logging.Debug, "request %d", 7)

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), buf.String())
	}
	for i, line := range lines {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("line %d is not JSON: %q", i, line)
		}
		wantLevel := "warn"
		if i == 4 {
			wantLevel = "debug"
		}
		if entry["level"] != wantLevel || entry["source"] != "aws-sdk" {
			t.Errorf("line %d = %v, want level %s from aws-sdk", i, entry, wantLevel)
		}
	}
}
