// Package awsclient builds the AWS SDK clients the daemon talks to: Kinesis,
// CloudWatch and SNS, from the SDK's default configuration chain.
//
// Credentials always come from that chain (environment, shared files, the
// container or instance role); nothing here reads them from the daemon's own
// configuration. Endpoints can be overridden per service, which is how the
// daemon and its tests reach local emulators.
package awsclient

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// Endpoints overrides the base URL of each service; an empty field keeps the
// SDK's regional endpoint.
type Endpoints struct {
	Kinesis    string
	CloudWatch string
	SNS        string
}

// Clients are the SDK clients of the services the daemon uses.
type Clients struct {
	Kinesis    *kinesis.Client
	CloudWatch *cloudwatch.Client
	SNS        *sns.Client
}

// Load reads the SDK's default configuration and returns a client per
// service. A non-empty region overrides the configured one. CloudWatch
// request compression is turned off: its only use here would be
// PutMetricData, and emulators do not accept gzip bodies.
func Load(ctx context.Context, region string, ep Endpoints) (Clients, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return Clients{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return Clients{
		Kinesis: kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
			setEndpoint(&o.BaseEndpoint, ep.Kinesis)
		}),
		CloudWatch: cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) {
			setEndpoint(&o.BaseEndpoint, ep.CloudWatch)
			o.DisableRequestCompression = true
		}),
		SNS: sns.NewFromConfig(cfg, func(o *sns.Options) {
			setEndpoint(&o.BaseEndpoint, ep.SNS)
		}),
	}, nil
}

// setEndpoint overrides the base endpoint when url is set, and otherwise
// keeps what the shared configuration resolved (AWS_ENDPOINT_URL_*, or the
// SDK's regional endpoint).
func setEndpoint(base **string, url string) {
	if url != "" {
		*base = aws.String(url)
	}
}
