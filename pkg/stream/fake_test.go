package stream

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// recorded is one faked SDK call: it records inputs and the client options
// after the per-call option functions, and answers from per-test results in
// order, repeating the last.
type recorded[I, O any] struct {
	mu      sync.Mutex
	inputs  []*I
	options []kinesis.Options
	results []result[O]
}

type result[O any] struct {
	out *O
	err error
}

func (r *recorded[I, O]) returns(out *O, err error) *recorded[I, O] {
	r.results = append(r.results, result[O]{out: out, err: err})
	return r
}

func (r *recorded[I, O]) call(in *I, optFns []func(*kinesis.Options)) (*O, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := kinesis.Options{Retryer: retry.NewStandard()}
	for _, fn := range optFns {
		fn(&o)
	}
	r.inputs = append(r.inputs, in)
	r.options = append(r.options, o)
	if len(r.results) == 0 {
		var zero O
		return &zero, nil
	}
	res := r.results[min(len(r.inputs), len(r.results))-1]
	return res.out, res.err
}

func (r *recorded[I, O]) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.inputs)
}

// fakeKinesis is a kinesisAPI whose calls each answer as the test set up.
type fakeKinesis struct {
	describe recorded[kinesis.DescribeStreamSummaryInput, kinesis.DescribeStreamSummaryOutput]
	update   recorded[kinesis.UpdateShardCountInput, kinesis.UpdateShardCountOutput]
	listTags recorded[kinesis.ListTagsForStreamInput, kinesis.ListTagsForStreamOutput]
	addTags  recorded[kinesis.AddTagsToStreamInput, kinesis.AddTagsToStreamOutput]
	rmTags   recorded[kinesis.RemoveTagsFromStreamInput, kinesis.RemoveTagsFromStreamOutput]
	list     recorded[kinesis.ListStreamsInput, kinesis.ListStreamsOutput]
	shards   recorded[kinesis.ListShardsInput, kinesis.ListShardsOutput]
	split    recorded[kinesis.SplitShardInput, kinesis.SplitShardOutput]
	merge    recorded[kinesis.MergeShardsInput, kinesis.MergeShardsOutput]
	monitor  recorded[kinesis.EnableEnhancedMonitoringInput, kinesis.EnableEnhancedMonitoringOutput]
}

var _ kinesisAPI = (*fakeKinesis)(nil)

func (f *fakeKinesis) DescribeStreamSummary(_ context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return f.describe.call(in, optFns)
}

func (f *fakeKinesis) UpdateShardCount(_ context.Context, in *kinesis.UpdateShardCountInput, optFns ...func(*kinesis.Options)) (*kinesis.UpdateShardCountOutput, error) {
	return f.update.call(in, optFns)
}

func (f *fakeKinesis) ListTagsForStream(_ context.Context, in *kinesis.ListTagsForStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.ListTagsForStreamOutput, error) {
	return f.listTags.call(in, optFns)
}

func (f *fakeKinesis) AddTagsToStream(_ context.Context, in *kinesis.AddTagsToStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.AddTagsToStreamOutput, error) {
	return f.addTags.call(in, optFns)
}

func (f *fakeKinesis) RemoveTagsFromStream(_ context.Context, in *kinesis.RemoveTagsFromStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.RemoveTagsFromStreamOutput, error) {
	return f.rmTags.call(in, optFns)
}

func (f *fakeKinesis) ListStreams(_ context.Context, in *kinesis.ListStreamsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListStreamsOutput, error) {
	return f.list.call(in, optFns)
}

func (f *fakeKinesis) ListShards(_ context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return f.shards.call(in, optFns)
}

func (f *fakeKinesis) SplitShard(_ context.Context, in *kinesis.SplitShardInput, optFns ...func(*kinesis.Options)) (*kinesis.SplitShardOutput, error) {
	return f.split.call(in, optFns)
}

func (f *fakeKinesis) MergeShards(_ context.Context, in *kinesis.MergeShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error) {
	return f.merge.call(in, optFns)
}

func (f *fakeKinesis) EnableEnhancedMonitoring(_ context.Context, in *kinesis.EnableEnhancedMonitoringInput, optFns ...func(*kinesis.Options)) (*kinesis.EnableEnhancedMonitoringOutput, error) {
	return f.monitor.call(in, optFns)
}
