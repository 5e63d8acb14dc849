package main

import (
	"context"
	"errors"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/awsclient"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/metrics"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/sim"
)

// cloudWatchHistory reads a stream's last days of 1-minute IncomingRecords
// and IncomingBytes from CloudWatch as a trace. The AWS region and endpoints
// come from the config file when one is given, else from the SDK's default
// chain. Minutes before the stream's first datapoint and after its last are
// dropped; a minute without data inside the span replays as no traffic.
func cloudWatchHistory(ctx context.Context, configPath, stream string, days int) (sim.Trace, error) {
	var region string
	var ep awsclient.Endpoints
	if configPath != "" {
		cfg, err := config.Load(configPath)
		if err != nil {
			return sim.Trace{}, badInput(err)
		}
		region = cfg.AWS.Region
		ep = awsclient.Endpoints{Kinesis: cfg.AWS.Endpoints.Kinesis, CloudWatch: cfg.AWS.Endpoints.CloudWatch, SNS: cfg.AWS.Endpoints.SNS}
	}
	clients, err := awsclient.Load(ctx, region, ep)
	if errors.Is(err, awsclient.ErrNoRegion) {
		return sim.Trace{}, badInput(err)
	}
	if err != nil {
		return sim.Trace{}, err
	}
	end := time.Now().UTC().Truncate(time.Minute)
	ms, err := metrics.New(clients.CloudWatch).ReadHistory(ctx, stream, end.Add(-time.Duration(days)*24*time.Hour), end)
	if err != nil {
		return sim.Trace{}, err
	}
	ms = trimUnknown(ms)
	if len(ms) == 0 {
		return sim.Trace{}, badInput(errors.New("CloudWatch has no IncomingRecords and IncomingBytes datapoints for the stream in that window"))
	}
	return sim.TraceFromMinutes("cloudwatch:"+stream, ms)
}

// trimUnknown drops the unknown minutes at both ends.
func trimUnknown(ms []policy.Minute) []policy.Minute {
	for len(ms) > 0 && !ms[0].Known {
		ms = ms[1:]
	}
	for len(ms) > 0 && !ms[len(ms)-1].Known {
		ms = ms[:len(ms)-1]
	}
	return ms
}
