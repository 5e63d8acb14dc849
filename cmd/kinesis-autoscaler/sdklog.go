package main

import (
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/logging"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// sdkLogMode is what the SDK logs besides its warnings: each retry, when the
// daemon starts at debug level (the clients are built once, so a reload to
// debug does not change it).
func sdkLogMode(level zapcore.Level) aws.ClientLogMode {
	if level <= zapcore.DebugLevel {
		return aws.LogRetries
	}
	return 0
}

// sdkLogger sends the AWS SDK's own log output through zap, so that the
// daemon's log stays one JSON line per entry: the SDK's warnings at warn,
// anything else it logs at debug.
type sdkLogger struct{ log *zap.Logger }

var _ logging.Logger = sdkLogger{}

// Logf implements logging.Logger.
func (l sdkLogger) Logf(classification logging.Classification, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if classification == logging.Warn {
		l.log.Warn(msg, zap.String("source", "aws-sdk"))
		return
	}
	l.log.Debug(msg, zap.String("source", "aws-sdk"), zap.String("classification", string(classification)))
}
