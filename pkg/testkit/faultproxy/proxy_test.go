package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/awsclient"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/cwtest"
)

var creds = credentials.NewStaticCredentialsProvider("AKIDFAULT", "secret", "")

// kinesisUpstream answers every JSON 1.1 call with a stream summary of 3
// open shards and counts the calls.
func kinesisUpstream(t *testing.T) (string, *int) {
	n := new(int)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*n++
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprint(w, `{"StreamDescriptionSummary":{"StreamName":"s","StreamStatus":"ACTIVE","OpenShardCount":3,`+
			`"StreamARN":"arn:aws:kinesis:us-east-1:123456789012:stream/s","RetentionPeriodHours":24,`+
			`"StreamCreationTimestamp":1700000000,"EnhancedMonitoring":[]}}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, n
}

func kinesisClient(url string) *kinesis.Client {
	return kinesis.New(kinesis.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(url),
		Retryer: aws.NopRetryer{}, HTTPClient: awsclient.OwnBodies(nil)})
}

func describe(ctx context.Context, c *kinesis.Client) (int32, error) {
	out, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
	if err != nil {
		return 0, err
	}
	return aws.ToInt32(out.StreamDescriptionSummary.OpenShardCount), nil
}

func TestKinesisFaults(t *testing.T) {
	tests := []struct {
		name          string
		fault         Fault
		wantCode      string
		wantTyped     func(error) bool
		wantErr       bool
		wantForwarded bool
	}{
		{name: "pass", wantForwarded: true},
		{name: "server error", fault: ServerError(), wantCode: "InternalFailure", wantErr: true},
		{name: "throttling", fault: Throttling("ThrottlingException"), wantCode: "ThrottlingException", wantErr: true},
		{name: "limit exceeded", fault: LimitExceeded(), wantCode: "LimitExceededException", wantErr: true,
			wantTyped: func(err error) bool { var e *types.LimitExceededException; return errors.As(err, &e) }},
		{name: "resource in use", fault: ResourceInUse(), wantCode: "ResourceInUseException", wantErr: true,
			wantTyped: func(err error) bool { var e *types.ResourceInUseException; return errors.As(err, &e) }},
		{name: "slow", fault: Delay(50 * time.Millisecond), wantForwarded: true},
		{name: "dropped", fault: Drop(), wantErr: true},
		{name: "dropped after forward", fault: DropAfterForward(), wantErr: true, wantForwarded: true},
		{name: "truncated", fault: Truncate(), wantErr: true, wantForwarded: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, upstreamCalls := kinesisUpstream(t)
			p := New(t, up)
			if tt.fault != nil {
				p.Inject(Rule{Operation: "DescribeStreamSummary", Stream: "s", Fault: tt.fault, Times: 1})
			}
			p.SetLabel("first")
			start := time.Now()
			shards, err := describe(t.Context(), kinesisClient(p.URL))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && shards != 3 {
				t.Errorf("shards = %d, want 3", shards)
			}
			var apiErr smithy.APIError
			if tt.wantCode != "" && (!errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.wantCode) {
				t.Errorf("err = %v, want AWS error code %s", err, tt.wantCode)
			}
			if tt.wantTyped != nil && !tt.wantTyped(err) {
				t.Errorf("err = %T %v, not the SDK's typed error", err, err)
			}
			if _, ok := tt.fault.(delayFault); ok && time.Since(start) < 50*time.Millisecond {
				t.Errorf("slow call took %s", time.Since(start))
			}
			calls := p.Calls()
			if len(calls) != 1 {
				t.Fatalf("proxy saw %d calls, want 1", len(calls))
			}
			c := calls[0]
			if c.Request.Operation != "DescribeStreamSummary" || c.Request.Stream != "s" || c.Request.Protocol != ProtocolJSON || c.Label != "first" {
				t.Errorf("call logged as %+v", c.Request)
			}
			if c.Forwarded != tt.wantForwarded || (*upstreamCalls == 1) != tt.wantForwarded || c.Accepted() != tt.wantForwarded {
				t.Errorf("forwarded %v, accepted %v, upstream calls %d; want forwarded %v", c.Forwarded, c.Accepted(), *upstreamCalls, tt.wantForwarded)
			}
			if want := 0; tt.fault != nil {
				want = 1
				if got := p.Injected()[tt.fault.Name()]; got != want {
					t.Errorf("injected %d %q, want %d", got, tt.fault.Name(), want)
				}
			}
			// The rule was for one call only.
			if _, err := describe(t.Context(), kinesisClient(p.URL)); err != nil {
				t.Errorf("second call: %v", err)
			}
		})
	}
}

func TestRuleMatchesOperationAndStreamUntilRemoved(t *testing.T) {
	up, _ := kinesisUpstream(t)
	p := New(t, up)
	r := p.Inject(Rule{Operation: "DescribeStreamSummary", Stream: "s", Fault: ServerError()})
	other := p.Inject(Rule{Stream: "other", Fault: ServerError()})
	c := kinesisClient(p.URL)
	for range 3 {
		if _, err := describe(t.Context(), c); err == nil {
			t.Fatal("persistent fault did not fail the call")
		}
	}
	if r.Hits() != 3 || other.Hits() != 0 {
		t.Fatalf("hits %d and %d, want 3 and 0", r.Hits(), other.Hits())
	}
	r.Remove()
	if _, err := describe(t.Context(), c); err != nil {
		t.Fatalf("after Remove: %v", err)
	}
	if p.InjectedTotal() != 3 {
		t.Fatalf("injected %d, want 3", p.InjectedTotal())
	}
}

func TestHangEndsWhenTheClientGivesUp(t *testing.T) {
	up, upstreamCalls := kinesisUpstream(t)
	p := New(t, up)
	p.Inject(Rule{Fault: Hang()})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := describe(ctx, kinesisClient(p.URL)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if *upstreamCalls != 0 {
		t.Fatal("a hung call reached the upstream")
	}
}

func TestReleaseHung(t *testing.T) {
	up, upstreamCalls := kinesisUpstream(t)
	p := New(t, up)
	p.Inject(Rule{Fault: Hang(), Times: 1})
	done := make(chan error, 1)
	go func() { _, err := describe(t.Context(), kinesisClient(p.URL)); done <- err }()
	for len(p.Calls()) == 0 {
		time.Sleep(time.Millisecond)
	}
	p.ReleaseHung()
	if err := <-done; err != nil || *upstreamCalls != 1 {
		t.Fatalf("released call: %v, %d upstream calls", err, *upstreamCalls)
	}
}

func TestCloudWatchFaults(t *testing.T) {
	cw := cwtest.New(t)
	at := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := range 10 {
		cw.Put("a", "IncomingBytes", at.Add(time.Duration(i)*time.Minute), 100)
		cw.Put("b", "IncomingBytes", at.Add(time.Duration(i)*time.Minute), 200)
	}
	p := New(t, cw.URL)
	client := cloudwatch.New(cloudwatch.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(p.URL),
		DisableRequestCompression: true, Retryer: aws.NopRetryer{}, HTTPClient: awsclient.OwnBodies(nil)})
	query := func(stream string) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String("q" + stream), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String("AWS/Kinesis"), MetricName: aws.String("IncomingBytes"),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("StreamName"), Value: aws.String(stream)}}},
			Period: aws.Int32(60), Stat: aws.String("Sum")}}
	}
	get := func() (map[string]int, error) {
		out, err := client.GetMetricData(t.Context(), &cloudwatch.GetMetricDataInput{
			StartTime: aws.Time(at), EndTime: aws.Time(at.Add(10 * time.Minute)),
			MetricDataQueries: []cwtypes.MetricDataQuery{query("a"), query("b")},
		})
		if err != nil {
			return nil, err
		}
		n := map[string]int{}
		for _, r := range out.MetricDataResults {
			n[aws.ToString(r.Id)] = len(r.Values)
		}
		return n, nil
	}

	p.Inject(Rule{Operation: "GetMetricData", Fault: Throttling("Throttling"), Times: 1})
	var apiErr smithy.APIError
	if _, err := get(); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "Throttling" {
		t.Fatalf("err = %v, want Throttling", err)
	}

	p.Inject(Rule{Operation: "GetMetricData", Times: 1, Fault: RewriteMetricData("half of a", func(s *Series) bool {
		if s.Stream == "a" {
			s.Points = s.Points[:len(s.Points)/2]
			s.StatusCode = "PartialData"
		}
		return s.Stream != "b"
	})})
	got, err := get()
	if err != nil {
		t.Fatal(err)
	}
	if got["qa"] != 5 || got["qb"] != 0 || len(got) != 1 {
		t.Fatalf("values per query %v, want qa:5 and no qb", got)
	}
	if got, err := get(); err != nil || got["qa"] != 10 || got["qb"] != 10 {
		t.Fatalf("after the rule: %v %v", got, err)
	}
}

func TestSNSErrorsDecode(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m1</MessageId></PublishResult></PublishResponse>`)
	}))
	t.Cleanup(up.Close)
	p := New(t, up.URL)
	client := sns.New(sns.Options{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(p.URL), Retryer: aws.NopRetryer{},
		HTTPClient: awsclient.OwnBodies(nil)})
	publish := func() error {
		_, err := client.Publish(t.Context(), &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:t"), Message: aws.String("hi")})
		return err
	}
	p.Inject(Rule{Operation: "Publish", Fault: Throttling("Throttling"), Times: 1})
	var apiErr smithy.APIError
	if err := publish(); !errors.As(err, &apiErr) || apiErr.ErrorCode() != "Throttling" {
		t.Fatalf("err = %v, want Throttling", err)
	}
	if err := publish(); err != nil {
		t.Fatal(err)
	}
	if c := p.Calls(); len(c) != 2 || c[0].Request.Protocol != ProtocolQuery || c[0].Request.Operation != "Publish" {
		t.Fatalf("calls %+v", c)
	}
}
