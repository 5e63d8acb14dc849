package stream

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func TestListStreamNamesPages(t *testing.T) {
	tests := []struct {
		name  string
		pages []*kinesis.ListStreamsOutput
		want  []string
		// wantNext checks the second call's input.
		wantNext func(in *kinesis.ListStreamsInput) bool
	}{
		{
			name: "NextToken where AWS gives one",
			pages: []*kinesis.ListStreamsOutput{
				{StreamNames: []string{"a", "b"}, HasMoreStreams: aws.Bool(true), NextToken: aws.String("tok")},
				{StreamNames: []string{"c"}, HasMoreStreams: aws.Bool(false)},
			},
			want: []string{"a", "b", "c"},
			wantNext: func(in *kinesis.ListStreamsInput) bool {
				return aws.ToString(in.NextToken) == "tok" && in.ExclusiveStartStreamName == nil
			},
		},
		{
			name: "ExclusiveStartStreamName without a token, as kinesis-mock answers",
			pages: []*kinesis.ListStreamsOutput{
				{StreamNames: []string{"a", "b"}, HasMoreStreams: aws.Bool(true)},
				{StreamNames: []string{"c"}, HasMoreStreams: aws.Bool(false)},
			},
			want: []string{"a", "b", "c"},
			wantNext: func(in *kinesis.ListStreamsInput) bool {
				return aws.ToString(in.ExclusiveStartStreamName) == "b" && in.NextToken == nil
			},
		},
		{
			name: "summaries only",
			pages: []*kinesis.ListStreamsOutput{
				{StreamSummaries: []types.StreamSummary{{StreamName: aws.String("a")}}, HasMoreStreams: aws.Bool(false)},
			},
			want: []string{"a"},
		},
		{
			name: "an empty page ends the listing even if more is promised",
			pages: []*kinesis.ListStreamsOutput{
				{StreamNames: []string{"a"}, HasMoreStreams: aws.Bool(true)},
				{HasMoreStreams: aws.Bool(true)},
			},
			want: []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeKinesis{}
			for _, p := range tt.pages {
				fake.list.returns(p, nil)
			}
			got, err := New(fake).ListStreamNames(context.Background())
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ListStreamNames = %v, %v; want %v", got, err, tt.want)
			}
			if tt.wantNext != nil && !tt.wantNext(fake.list.inputs[1]) {
				t.Errorf("second call: %+v", fake.list.inputs[1])
			}
		})
	}
}

func TestListStreamNamesError(t *testing.T) {
	fake := &fakeKinesis{}
	fake.list.returns(nil, errors.New("AccessDeniedException"))
	if _, err := New(fake).ListStreamNames(context.Background()); err == nil {
		t.Fatal("error hidden")
	}
}

// Tag calls are paced under AWS's limit of 5 per second, evenly spaced: a
// call goes through at once, the next waits its turn. A context that ends
// first ends the wait.
func TestTagCallsArePaced(t *testing.T) {
	fake := &fakeKinesis{}
	k := New(fake)
	ctx := context.Background()
	if _, err := k.ListTags(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := k.ListTags(short, "s"); err == nil {
		t.Fatal("a second call at once was not held back")
	}
	if n := fake.listTags.calls(); n != 1 {
		t.Fatalf("%d calls reached AWS, want 1", n)
	}
	unpaced := New(fake, WithRateLimit(opListTagsForStream, 0))
	for range 20 {
		if _, err := unpaced.ListTags(short, "s"); err != nil {
			t.Fatalf("without a limit: %v", err)
		}
	}
}
