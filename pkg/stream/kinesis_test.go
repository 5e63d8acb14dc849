package stream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

func TestDescribe(t *testing.T) {
	summary := func(open int32, status types.StreamStatus, mode *types.StreamModeDetails) *kinesis.DescribeStreamSummaryOutput {
		return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{
			OpenShardCount: aws.Int32(open), StreamStatus: status, StreamModeDetails: mode,
		}}
	}
	otherErr := errors.New("connection reset")
	tests := []struct {
		name    string
		out     *kinesis.DescribeStreamSummaryOutput
		err     error
		want    policy.StreamState
		wantErr []error
	}{
		{
			name: "provisioned",
			out:  summary(4, types.StreamStatusActive, &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned}),
			want: policy.StreamState{OpenShards: 4, Status: policy.StatusActive, Mode: policy.ModeProvisioned},
		},
		{
			name: "on demand while updating",
			out:  summary(8, types.StreamStatusUpdating, &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}),
			want: policy.StreamState{OpenShards: 8, Status: policy.StatusUpdating, Mode: policy.ModeOnDemand},
		},
		{
			name: "no mode details means provisioned",
			out:  summary(1, types.StreamStatusActive, nil),
			want: policy.StreamState{OpenShards: 1, Status: policy.StatusActive, Mode: policy.ModeProvisioned},
		},
		{
			name:    "not found",
			err:     &types.ResourceNotFoundException{Message: aws.String("Stream s under account 1 not found.")},
			wantErr: []error{policy.ErrStreamNotFound},
		},
		{
			name:    "rate limited is not a spent quota",
			err:     &types.LimitExceededException{Message: aws.String("Rate exceeded")},
			wantErr: []error{},
		},
		{
			name:    "other error",
			err:     otherErr,
			wantErr: []error{otherErr},
		},
		{
			name:    "no summary",
			out:     &kinesis.DescribeStreamSummaryOutput{},
			wantErr: []error{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeKinesis{}
			fake.describe.returns(tt.out, tt.err)
			got, err := New(fake).Describe(context.Background(), "clicks")
			if name := aws.ToString(fake.describe.inputs[0].StreamName); name != "clicks" {
				t.Errorf("described %q", name)
			}
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("no error, got %+v", got)
				}
				for _, w := range tt.wantErr {
					if !errors.Is(err, w) {
						t.Errorf("error %v does not wrap %v", err, w)
					}
				}
				if tt.err != nil && !errors.Is(err, tt.err) {
					t.Errorf("error %v lost the AWS error", err)
				}
				if tt.name == "rate limited is not a spent quota" && errors.Is(err, policy.ErrQuotaExceeded) {
					t.Errorf("DescribeStreamSummary rate limit reported as spent quota: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUpdateShardCount(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		sentinel error
	}{
		{name: "accepted"},
		{name: "busy", err: &types.ResourceInUseException{Message: aws.String("UPDATING")}, sentinel: policy.ErrStreamBusy},
		{name: "quota", err: &types.LimitExceededException{Message: aws.String("10 calls")}, sentinel: policy.ErrQuotaExceeded},
		{name: "not found", err: &types.ResourceNotFoundException{}, sentinel: policy.ErrStreamNotFound},
		{name: "invalid", err: &types.InvalidArgumentException{}, sentinel: policy.ErrInvalidTarget},
		{name: "generic API error with a known code", err: &smithy.GenericAPIError{Code: "ResourceInUseException"}, sentinel: policy.ErrStreamBusy},
		{name: "access denied passes through", err: &types.AccessDeniedException{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeKinesis{}
			fake.update.returns(&kinesis.UpdateShardCountOutput{}, tt.err)
			err := New(fake).UpdateShardCount(context.Background(), "clicks", 4)

			in := fake.update.inputs[0]
			if aws.ToString(in.StreamName) != "clicks" || aws.ToInt32(in.TargetShardCount) != 4 || in.ScalingType != types.ScalingTypeUniformScaling {
				t.Errorf("input %+v", in)
			}
			if tt.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error %v lost the AWS error", err)
			}
			for _, s := range []error{policy.ErrStreamBusy, policy.ErrQuotaExceeded, policy.ErrStreamNotFound, policy.ErrInvalidTarget} {
				if errors.Is(err, s) != (s == tt.sentinel) {
					t.Errorf("errors.Is(%v, %v) = %v", err, s, !(s == tt.sentinel))
				}
			}
		})
	}
}

func TestUpdateShardCountRefusesNonsense(t *testing.T) {
	for _, target := range []int{0, -1, 1 << 31} {
		fake := &fakeKinesis{}
		err := New(fake).UpdateShardCount(context.Background(), "clicks", target)
		if !errors.Is(err, policy.ErrInvalidTarget) {
			t.Errorf("target %d: error %v", target, err)
		}
		if fake.update.calls() != 0 {
			t.Errorf("target %d: AWS was called", target)
		}
	}
}

func TestUpdateShardCountAsksForOneAttempt(t *testing.T) {
	fake := &fakeKinesis{}
	if err := New(fake).UpdateShardCount(context.Background(), "clicks", 2); err != nil {
		t.Fatal(err)
	}
	if got := fake.update.options[0].RetryMaxAttempts; got != 1 {
		t.Errorf("RetryMaxAttempts = %d, want 1", got)
	}
}

// noBackoff retries at once, so that retry tests take no time.
type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// errorServer answers every request like Kinesis with the given status and
// error code, and counts requests per operation.
func errorServer(t *testing.T, status int, code string, optFns ...func(*kinesis.Options)) (*kinesis.Client, map[string]*atomic.Int32) {
	t.Helper()
	counts := map[string]*atomic.Int32{
		"Kinesis_20131202.UpdateShardCount":      {},
		"Kinesis_20131202.DescribeStreamSummary": {},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := counts[r.Header.Get("X-Amz-Target")]; ok {
			c.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":%q,"message":"refused by the test"}`, code)
	}))
	t.Cleanup(srv.Close)
	client := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer:      retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = noBackoff{} }),
	}, optFns...)
	return client, counts
}

// UpdateShardCount is made once whatever the answer: it is not idempotent.
func TestUpdateShardCountIsNotRetriedOverHTTP(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		code     string
		want     int32
		sentinel error
	}{
		{name: "spent quota is final", status: 400, code: "LimitExceededException", want: 1, sentinel: policy.ErrQuotaExceeded},
		{name: "busy is final", status: 400, code: "ResourceInUseException", want: 1, sentinel: policy.ErrStreamBusy},
		{name: "server error is final: it may have been applied", status: 500, code: "InternalFailure", want: 1},
		{name: "throttling is final: the next cycle decides again", status: 400, code: "ThrottlingException", want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, counts := errorServer(t, tt.status, tt.code)
			err := New(client).UpdateShardCount(context.Background(), "clicks", 4)
			if err == nil {
				t.Fatal("no error")
			}
			if got := counts["Kinesis_20131202.UpdateShardCount"].Load(); got != tt.want {
				t.Errorf("%d requests, want %d (error %v)", got, tt.want, err)
			}
			if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
				t.Errorf("error %v does not wrap %v", err, tt.sentinel)
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.code {
				t.Errorf("error %v does not keep the AWS error %s", err, tt.code)
			}
		})
	}
}

func TestUpdateShardCountOverridesTheClientsAttempts(t *testing.T) {
	// A client set to retry five times still makes the call once.
	five := func(o *kinesis.Options) { o.RetryMaxAttempts = 5 }
	client, counts := errorServer(t, 500, "InternalFailure", five)
	_ = New(client).UpdateShardCount(context.Background(), "clicks", 4)
	if got := counts["Kinesis_20131202.UpdateShardCount"].Load(); got != 1 {
		t.Errorf("500: %d requests, want 1", got)
	}
	client, counts = errorServer(t, 400, "LimitExceededException", five)
	_ = New(client).UpdateShardCount(context.Background(), "clicks", 4)
	if got := counts["Kinesis_20131202.UpdateShardCount"].Load(); got != 1 {
		t.Errorf("LimitExceededException: %d requests, want 1", got)
	}
}

func TestDescribeStillRetriesLimitExceeded(t *testing.T) {
	client, counts := errorServer(t, 400, "LimitExceededException")
	if _, err := New(client).Describe(context.Background(), "clicks"); err == nil {
		t.Fatal("no error")
	}
	if got := counts["Kinesis_20131202.DescribeStreamSummary"].Load(); got != 3 {
		t.Errorf("%d requests, want 3: the option must apply to UpdateShardCount alone", got)
	}
}
