// Package awsclient builds the AWS SDK clients the daemon talks to: Kinesis,
// CloudWatch, SNS and DynamoDB (for the lease), from the SDK's default
// configuration chain.
//
// Credentials always come from that chain (environment, shared files, the
// container or instance role); nothing here reads them from the daemon's own
// configuration. Endpoints can be overridden per service, which is how the
// daemon and its tests reach local emulators. Every call's outcome, after
// the SDK's retries, can be reported to a CallObserver, for metrics of AWS
// errors by service and code.
package awsclient

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
)

// Endpoints overrides the base URL of each service; an empty field keeps the
// SDK's regional endpoint.
type Endpoints struct {
	Kinesis    string
	CloudWatch string
	SNS        string
	DynamoDB   string
}

// Clients are the SDK clients of the services the daemon uses.
type Clients struct {
	Kinesis    *kinesis.Client
	CloudWatch *cloudwatch.Client
	SNS        *sns.Client
	DynamoDB   *dynamodb.Client
}

// Service names as the daemon reports them: the services' IAM prefixes.
const (
	ServiceKinesis    = "kinesis"
	ServiceCloudWatch = "cloudwatch"
	ServiceSNS        = "sns"
	ServiceDynamoDB   = "dynamodb"
)

// CallObserver is told of every AWS call once it is over, retries included:
// the service (one of the Service names), the operation (e.g.
// "UpdateShardCount") and the final error, nil on success.
type CallObserver func(service, operation string, err error)

// ErrNoRegion means neither the configuration nor the SDK's chain
// (AWS_REGION, AWS_DEFAULT_REGION, the shared config file's profile) names a
// region: every call would fail, so Load refuses to start.
var ErrNoRegion = errors.New("no AWS region: set aws.region (or KINESIS_AUTOSCALER_AWS_REGION), AWS_REGION, or a region in the AWS profile")

// Option configures Load.
type Option func(*options)

type options struct {
	observe CallObserver
	logger  logging.Logger
	logMode aws.ClientLogMode
}

// WithLogger sends the SDK's own log output (its warnings, e.g. about a
// response checksum it could not validate) to logger instead of plain text
// on stderr, with mode saying what else the SDK logs (e.g. aws.LogRetries;
// 0 for its warnings only).
func WithLogger(logger logging.Logger, mode aws.ClientLogMode) Option {
	return func(o *options) { o.logger, o.logMode = logger, mode }
}

// WithCallObserver reports every call to observe.
func WithCallObserver(observe CallObserver) Option {
	return func(o *options) { o.observe = observe }
}

// Load reads the SDK's default configuration and returns a client per
// service. A non-empty region overrides the configured one; with none from
// either, it returns ErrNoRegion. CloudWatch
// request compression is turned off: its only use here would be
// PutMetricData, and emulators do not accept gzip bodies.
func Load(ctx context.Context, region string, ep Endpoints, opts ...Option) (Clients, error) {
	var o options
	for _, fn := range opts {
		fn(&o)
	}
	var loadOpts []func(*config.LoadOptions) error
	if region != "" {
		loadOpts = append(loadOpts, config.WithRegion(region))
	}
	if o.logger != nil {
		loadOpts = append(loadOpts, config.WithLogger(o.logger), config.WithClientLogMode(o.logMode))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return Clients{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return Clients{}, ErrNoRegion
	}
	cfg.HTTPClient = OwnBodies(cfg.HTTPClient)
	observed := func(service string) []func(*middleware.Stack) error {
		if o.observe == nil {
			return nil
		}
		return []func(*middleware.Stack) error{observeCalls(service, o.observe)}
	}
	return Clients{
		Kinesis: kinesis.NewFromConfig(cfg, func(opt *kinesis.Options) {
			setEndpoint(&opt.BaseEndpoint, ep.Kinesis)
			opt.APIOptions = append(opt.APIOptions, observed(ServiceKinesis)...)
		}),
		CloudWatch: cloudwatch.NewFromConfig(cfg, func(opt *cloudwatch.Options) {
			setEndpoint(&opt.BaseEndpoint, ep.CloudWatch)
			opt.DisableRequestCompression = true
			opt.APIOptions = append(opt.APIOptions, observed(ServiceCloudWatch)...)
		}),
		SNS: sns.NewFromConfig(cfg, func(opt *sns.Options) {
			setEndpoint(&opt.BaseEndpoint, ep.SNS)
			opt.APIOptions = append(opt.APIOptions, observed(ServiceSNS)...)
		}),
		DynamoDB: dynamodb.NewFromConfig(cfg, func(opt *dynamodb.Options) {
			setEndpoint(&opt.BaseEndpoint, ep.DynamoDB)
			opt.APIOptions = append(opt.APIOptions, observed(ServiceDynamoDB)...)
		}),
	}, nil
}

// observeCalls adds a middleware that reports each call's final outcome. It
// sits at the end of the initialize step: after the SDK has named the
// operation, around the retry loop of the finalize step.
func observeCalls(service string, observe CallObserver) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("kinesis-autoscaler/observe-calls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				observe(service, awsmiddleware.GetOperationName(ctx), err)
				return out, md, err
			}), middleware.After)
	}
}

// ErrorCode names an AWS call's error for metrics: AWS's error code (e.g.
// "ThrottlingException"), or "Canceled", "Timeout" or "NetworkError" when
// the call got no answer, or "Other".
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	var netErr net.Error
	var canceled *smithy.CanceledError
	switch {
	case errors.As(err, &apiErr) && apiErr.ErrorCode() != "":
		return apiErr.ErrorCode()
	case errors.Is(err, context.DeadlineExceeded):
		return "Timeout"
	case errors.As(err, &canceled) || errors.Is(err, context.Canceled):
		return "Canceled"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "Timeout"
	case errors.As(err, &netErr):
		return "NetworkError"
	}
	return "Other"
}

// setEndpoint overrides the base endpoint when url is set, and otherwise
// keeps what the shared configuration resolved (AWS_ENDPOINT_URL_*, or the
// SDK's regional endpoint).
func setEndpoint(base **string, url string) {
	if url != "" {
		*base = aws.String(url)
	}
}
