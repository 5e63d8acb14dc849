// Package notify tells people about the daemon's alerts: by SNS, whose topic
// fans out to email, chat or queues, or to the log when no topic is set.
//
// Subject and Body turn an alert into words; they are pure, so that the
// simulator and tests see exactly what people get. Every SNS message carries
// the attributes "event" (the alert kind) and "scope" ("stream", or "daemon"
// for an alert about the daemon itself, such as its configuration), and a
// stream's alerts "stream" too, for subscription filter policies.
package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// Message attribute names every SNS alert carries.
const (
	// AttributeEvent holds the alert kind, e.g. "scaled_up".
	AttributeEvent = "event"
	// AttributeStream holds the stream name; alerts of ScopeDaemon have none.
	AttributeStream = "stream"
	// AttributeScope holds ScopeStream or ScopeDaemon.
	AttributeScope = "scope"
)

// Scopes of an alert: about one stream, or about the daemon itself. A
// daemon's alert carries no stream, so that it cannot be taken for the
// alerts of a stream of any name.
const (
	ScopeStream = "stream"
	ScopeDaemon = "daemon"
)

// AlertConfigRejected reports a configuration that the daemon was asked to
// reload (SIGHUP) and refused: the configuration in force stays. It is of
// ScopeDaemon and its Err lists the problems.
const AlertConfigRejected policy.AlertKind = "config_rejected"

// Scope is ScopeDaemon for the kinds of alert about the daemon itself, and
// ScopeStream for every other.
func Scope(kind policy.AlertKind) string {
	if kind == AlertConfigRejected {
		return ScopeDaemon
	}
	return ScopeStream
}

// Notifier tells people about an alert; it is what controller.Notifier asks
// for, declared here so that Multi can combine notifiers.
type Notifier interface {
	Notify(ctx context.Context, a policy.Alert) error
}

// snsAPI is the part of the SNS client this package uses.
type snsAPI interface {
	Publish(ctx context.Context, params *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var _ snsAPI = (*sns.Client)(nil)

// SNS publishes alerts to an SNS topic.
type SNS struct {
	client   snsAPI
	topicARN string
}

var _ Notifier = (*SNS)(nil)

// New returns an SNS notifier that publishes to the topic through client.
func New(client snsAPI, topicARN string) *SNS {
	return &SNS{client: client, topicARN: topicARN}
}

// Notify publishes the alert with Subject, Body and the attributes event and
// stream. On a FIFO topic each stream has its own message group (named by a
// hash, as group ids allow fewer characters than alert streams may have), and
// the alert's kind, stream and time make the deduplication id.
func (s *SNS) Notify(ctx context.Context, a policy.Alert) error {
	scope := Scope(a.Kind)
	in := &sns.PublishInput{
		TopicArn: aws.String(s.topicARN),
		Subject:  aws.String(Subject(a)),
		Message:  aws.String(Body(a)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			AttributeEvent: stringAttribute(string(a.Kind)),
			AttributeScope: stringAttribute(scope),
		},
	}
	if scope == ScopeStream {
		in.MessageAttributes[AttributeStream] = stringAttribute(a.Stream)
	}
	if strings.HasSuffix(s.topicARN, ".fifo") {
		group := sha256.Sum256([]byte(a.Stream))
		dedup := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d", a.Kind, a.Stream, a.At.UnixNano()))
		in.MessageGroupId = aws.String("stream-" + hex.EncodeToString(group[:8]))
		if scope == ScopeDaemon {
			in.MessageGroupId = aws.String(ScopeDaemon)
		}
		in.MessageDeduplicationId = aws.String(hex.EncodeToString(dedup[:]))
	}
	if _, err := s.client.Publish(ctx, in); err != nil {
		return fmt.Errorf("publish %s alert for %q to %s: %w", a.Kind, a.Stream, s.topicARN, err)
	}
	return nil
}

// stringAttribute is a String message attribute; SNS refuses empty values.
func stringAttribute(v string) types.MessageAttributeValue {
	if v == "" {
		v = "unknown"
	}
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// Log writes alerts to a zap logger; the daemon uses it when no SNS topic is
// configured.
type Log struct {
	log *zap.Logger
}

var _ Notifier = (*Log)(nil)

// NewLog returns a notifier that logs to log.
func NewLog(log *zap.Logger) *Log {
	return &Log{log: log}
}

// Notify logs the alert as one line: failures and conditions that need a
// person at warning level, scaling at info level.
func (l *Log) Notify(_ context.Context, a policy.Alert) error {
	level := zapcore.WarnLevel
	switch a.Kind {
	case policy.AlertScaledUp, policy.AlertScaledDown, policy.AlertWouldScale:
		level = zapcore.InfoLevel
	}
	ce := l.log.Check(level, "alert")
	if ce == nil {
		return nil
	}
	d := a.Decision
	stream := zap.String("stream", a.Stream)
	if Scope(a.Kind) == ScopeDaemon {
		stream = zap.Skip()
	}
	fields := []zap.Field{
		zap.String("event", string(a.Kind)),
		zap.String("scope", Scope(a.Kind)),
		stream,
		zap.String("subject", Subject(a)),
		zap.Time("at", a.At.UTC().Truncate(time.Second)),
		zap.Bool("dry_run", a.DryRun),
	}
	if d.Current > 0 || d.Reason != "" {
		fields = append(fields, zap.Int("shards", d.Current), zap.Int("target", d.Target),
			zap.String("reason", d.Reason), zap.Int("calls_left", d.CallsLeft))
	}
	if a.Err != "" {
		fields = append(fields, zap.String("error", a.Err))
	}
	if a.Next != "" {
		fields = append(fields, zap.String("next", a.Next))
	}
	ce.Write(fields...)
	return nil
}

// Multi sends each alert to every notifier in turn.
type Multi []Notifier

// Notify calls every notifier, even after one fails, and returns their
// errors joined.
func (m Multi) Notify(ctx context.Context, a policy.Alert) error {
	var errs []error
	for _, n := range m {
		if err := n.Notify(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
