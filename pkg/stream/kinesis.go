// Package stream acts on Kinesis streams for the controller: it describes a
// stream, reshards it with UpdateShardCount and keeps the stream's scaling
// history in its tags, so that the history survives restarts and people can
// read it in the console.
package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"golang.org/x/time/rate"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// kinesisAPI is the part of the Kinesis client this package uses.
type kinesisAPI interface {
	DescribeStreamSummary(ctx context.Context, params *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	UpdateShardCount(ctx context.Context, params *kinesis.UpdateShardCountInput, optFns ...func(*kinesis.Options)) (*kinesis.UpdateShardCountOutput, error)
	ListTagsForStream(ctx context.Context, params *kinesis.ListTagsForStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.ListTagsForStreamOutput, error)
	AddTagsToStream(ctx context.Context, params *kinesis.AddTagsToStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.AddTagsToStreamOutput, error)
	RemoveTagsFromStream(ctx context.Context, params *kinesis.RemoveTagsFromStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.RemoveTagsFromStreamOutput, error)
	ListStreams(ctx context.Context, params *kinesis.ListStreamsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListStreamsOutput, error)
	ListShards(ctx context.Context, params *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	SplitShard(ctx context.Context, params *kinesis.SplitShardInput, optFns ...func(*kinesis.Options)) (*kinesis.SplitShardOutput, error)
	MergeShards(ctx context.Context, params *kinesis.MergeShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error)
	EnableEnhancedMonitoring(ctx context.Context, params *kinesis.EnableEnhancedMonitoringInput, optFns ...func(*kinesis.Options)) (*kinesis.EnableEnhancedMonitoringOutput, error)
}

var _ kinesisAPI = (*kinesis.Client)(nil)

// AWS error codes this package tells apart.
const (
	codeResourceInUse    = "ResourceInUseException"
	codeLimitExceeded    = "LimitExceededException"
	codeResourceNotFound = "ResourceNotFoundException"
	codeInvalidArgument  = "InvalidArgumentException"
)

// AWS's rate limits of the calls this package paces, per account.
const (
	// ListStreamsPerSecond is AWS's limit of ListStreams calls.
	ListStreamsPerSecond = 5
	// TagCallsPerSecond is AWS's limit of each of ListTagsForStream,
	// AddTagsToStream and RemoveTagsFromStream.
	TagCallsPerSecond = 5
)

// Kinesis describes and reshards streams, lists them and their tags, and
// keeps their scaling history in stream tags. It implements
// controller.Streams and controller.RecordStore.
//
// It paces ListStreams and the tag calls under AWS's limits, so that
// discovering hundreds of streams does not spend the account's allowance in
// a burst of throttled calls.
type Kinesis struct {
	client kinesisAPI
	now    func() time.Time
	warn   func(stream string, problem error)
	// limits pace the calls named, by operation name.
	limits map[string]*rate.Limiter
	// listPage is how many names one ListStreams call asks for.
	listPage int32
	// listShardsPage, when set, is how many shards one ListShards call asks
	// for (tests page with it).
	listShardsPage int32
}

// Option configures a Kinesis.
type Option func(*Kinesis)

// WithClock sets the clock LoadRecord uses to reject times in the future;
// the default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(k *Kinesis) { k.now = now }
}

// WithTagWarnings sets a function that LoadRecord calls for each record tag
// it ignored as malformed, so that the caller can log it. Malformed tags are
// never an error: the rest of the history is still used.
func WithTagWarnings(warn func(stream string, problem error)) Option {
	return func(k *Kinesis) { k.warn = warn }
}

// WithRateLimit paces calls of the operation (e.g. "ListTagsForStream") at
// perSecond, evenly spaced, replacing the default (80 % of AWS's limit); 0
// lifts the limit.
func WithRateLimit(operation string, perSecond float64) Option {
	return func(k *Kinesis) {
		if perSecond <= 0 {
			delete(k.limits, operation)
			return
		}
		k.limits[operation] = evenly(perSecond)
	}
}

// paceShare is the share of AWS's limit that calls are paced at by default.
// Calls are spaced evenly (bursts of one): a burst as large as the limit
// followed by calls at the limit would put up to twice the limit into one
// second, and other tools of the account keep a share.
const paceShare = 0.8

// evenly paces calls at perSecond, evenly spaced.
func evenly(perSecond float64) *rate.Limiter { return rate.NewLimiter(rate.Limit(perSecond), 1) }

// New returns a Kinesis that talks to AWS through client.
func New(client kinesisAPI, opts ...Option) *Kinesis {
	k := &Kinesis{client: client, now: time.Now, warn: func(string, error) {}, listPage: 1000, limits: map[string]*rate.Limiter{
		opListStreams:          evenly(ListStreamsPerSecond * paceShare),
		opListTagsForStream:    evenly(TagCallsPerSecond * paceShare),
		opAddTagsToStream:      evenly(TagCallsPerSecond * paceShare),
		opRemoveTagsFromStream: evenly(TagCallsPerSecond * paceShare),
		opListShards:           rate.NewLimiter(ListShardsPerSecond, ListShardsPerSecond),
		opSplitShard:           rate.NewLimiter(SplitShardPerSecond, SplitShardPerSecond),
		opMergeShards:          rate.NewLimiter(MergeShardsPerSecond, MergeShardsPerSecond),
		opEnableMonitoring:     rate.NewLimiter(EnableEnhancedMonitoringPerSecond, EnableEnhancedMonitoringPerSecond),
	}}
	for _, o := range opts {
		o(k)
	}
	return k
}

// Names of the operations that are paced.
const (
	opListStreams          = "ListStreams"
	opListTagsForStream    = "ListTagsForStream"
	opAddTagsToStream      = "AddTagsToStream"
	opRemoveTagsFromStream = "RemoveTagsFromStream"
)

// pace waits for the operation's limiter, if it has one.
func (k *Kinesis) pace(ctx context.Context, operation string) error {
	l := k.limits[operation]
	if l == nil {
		return nil
	}
	if err := l.Wait(ctx); err != nil {
		return fmt.Errorf("wait to call %s: %w", operation, err)
	}
	return nil
}

// ListStreamNames returns the names of every stream of the account in the
// region. It pages with NextToken where AWS gives one and otherwise with
// ExclusiveStartStreamName, which every implementation of ListStreams
// takes.
func (k *Kinesis) ListStreamNames(ctx context.Context) ([]string, error) {
	var names []string
	in := &kinesis.ListStreamsInput{Limit: aws.Int32(k.listPage)}
	for {
		if err := k.pace(ctx, opListStreams); err != nil {
			return nil, err
		}
		out, err := k.client.ListStreams(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list streams: %w", classify(err, false))
		}
		page := out.StreamNames
		if len(page) == 0 {
			for _, s := range out.StreamSummaries {
				page = append(page, aws.ToString(s.StreamName))
			}
		}
		names = append(names, page...)
		if !aws.ToBool(out.HasMoreStreams) || len(page) == 0 {
			return names, nil
		}
		if out.NextToken != nil {
			in = &kinesis.ListStreamsInput{NextToken: out.NextToken, Limit: aws.Int32(k.listPage)}
		} else {
			in = &kinesis.ListStreamsInput{ExclusiveStartStreamName: aws.String(page[len(page)-1]), Limit: aws.Int32(k.listPage)}
		}
	}
}

// Describe returns the stream's open shard count, status and capacity mode. A
// stream without mode details is PROVISIONED, as it was before modes existed.
// A missing stream is reported as policy.ErrStreamNotFound.
func (k *Kinesis) Describe(ctx context.Context, name string) (policy.StreamState, error) {
	out, err := k.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	if err != nil {
		return policy.StreamState{}, classify(err, false)
	}
	sum := out.StreamDescriptionSummary
	if sum == nil {
		return policy.StreamState{}, fmt.Errorf("describe stream summary of %q: no summary in the answer", name)
	}
	state := policy.StreamState{
		OpenShards: int(aws.ToInt32(sum.OpenShardCount)),
		Status:     policy.Status(sum.StreamStatus),
		Mode:       policy.ModeProvisioned,
	}
	if d := sum.StreamModeDetails; d != nil && d.StreamMode != "" {
		state.Mode = policy.Mode(d.StreamMode)
	}
	return state, nil
}

// UpdateShardCount asks for a uniform reshard of the stream to target shards.
//
// AWS's answers come back wrapped in the policy errors, with the AWS error
// still in the chain: ResourceInUseException is policy.ErrStreamBusy,
// LimitExceededException policy.ErrQuotaExceeded, ResourceNotFoundException
// policy.ErrStreamNotFound and InvalidArgumentException
// policy.ErrInvalidTarget.
//
// The call is made once, never retried by the SDK: it is not idempotent. A
// retry after a 5xx or a dropped connection that AWS had in fact accepted
// would be answered ResourceInUseException and hide the reshard from the
// quota count, and LimitExceededException, which the SDK would retry as
// throttling, means here that the stream's rolling quota or the account's
// shard limit is spent. The controller resolves an ambiguous failure by
// describing the stream, and its next cycle decides again.
func (k *Kinesis) UpdateShardCount(ctx context.Context, name string, target int) error {
	if target < 1 || target > 1<<31-1 {
		return fmt.Errorf("%w: %d shards", policy.ErrInvalidTarget, target)
	}
	_, err := k.client.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{
		StreamName:       aws.String(name),
		TargetShardCount: aws.Int32(int32(target)),
		ScalingType:      types.ScalingTypeUniformScaling,
	}, func(o *kinesis.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		return classify(err, true)
	}
	return nil
}

// classify wraps an AWS error in the policy sentinel it stands for and keeps
// the AWS error in the chain. LimitExceededException means a spent quota
// only for resharding calls; elsewhere it is the API's rate limit.
func classify(err error, reshard bool) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	var sentinel error
	switch apiErr.ErrorCode() {
	case codeResourceNotFound:
		sentinel = policy.ErrStreamNotFound
	case codeResourceInUse:
		if reshard {
			sentinel = policy.ErrStreamBusy
		}
	case codeLimitExceeded:
		if reshard {
			sentinel = policy.ErrQuotaExceeded
		}
	case codeInvalidArgument:
		if reshard {
			sentinel = policy.ErrInvalidTarget
		}
	}
	if sentinel == nil {
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}
