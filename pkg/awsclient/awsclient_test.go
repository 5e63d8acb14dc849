package awsclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// isolate points the SDK's default chain at the environment alone.
func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS", "AWS_ENDPOINT_URL_CLOUDWATCH", "AWS_ENDPOINT_URL_SNS", "AWS_ENDPOINT_URL_DYNAMODB"} {
		t.Setenv(k, "")
	}
}

// recorder answers every request with a client error and keeps what came in.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(context.Background()))
	r.mu.Unlock()
	w.WriteHeader(http.StatusBadRequest)
}

func (r *recorder) last(t *testing.T) *http.Request {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("no request reached the endpoint")
	}
	return r.reqs[len(r.reqs)-1]
}

func TestLoadRegion(t *testing.T) {
	tests := []struct {
		name      string
		envRegion string
		region    string
		want      string
	}{
		{name: "override wins", envRegion: "us-west-2", region: "eu-west-1", want: "eu-west-1"},
		{name: "empty keeps the chain's", envRegion: "us-west-2", region: "", want: "us-west-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			t.Setenv("AWS_REGION", tt.envRegion)
			c, err := Load(context.Background(), tt.region, Endpoints{})
			if err != nil {
				t.Fatal(err)
			}
			for name, got := range map[string]string{
				"kinesis":    c.Kinesis.Options().Region,
				"cloudwatch": c.CloudWatch.Options().Region,
				"sns":        c.SNS.Options().Region,
				"dynamodb":   c.DynamoDB.Options().Region,
			} {
				if got != tt.want {
					t.Errorf("%s region = %q, want %q", name, got, tt.want)
				}
			}
			if c.Kinesis.Options().BaseEndpoint != nil {
				t.Errorf("kinesis endpoint overridden without being asked: %q", *c.Kinesis.Options().BaseEndpoint)
			}
			if !c.CloudWatch.Options().DisableRequestCompression {
				t.Error("CloudWatch request compression is on")
			}
		})
	}
}

func TestLoadEndpoints(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_REGION", "us-west-2")
	servers := map[string]*recorder{"kinesis": {}, "cloudwatch": {}, "sns": {}, "dynamodb": {}}
	urls := map[string]string{}
	for name, rec := range servers {
		srv := httptest.NewServer(rec)
		t.Cleanup(srv.Close)
		urls[name] = srv.URL
	}
	c, err := Load(context.Background(), "eu-central-1", Endpoints{
		Kinesis: urls["kinesis"], CloudWatch: urls["cloudwatch"], SNS: urls["sns"], DynamoDB: urls["dynamodb"],
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	noRetry := func(o *kinesis.Options) { o.RetryMaxAttempts = 1 }
	_, _ = c.Kinesis.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")}, noRetry)
	_, _ = c.CloudWatch.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(time.Unix(0, 0)), EndTime: aws.Time(time.Unix(60, 0)),
		MetricDataQueries: []types.MetricDataQuery{{Id: aws.String("q"), Expression: aws.String("1")}},
	}, func(o *cloudwatch.Options) { o.RetryMaxAttempts = 1 })
	_, _ = c.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:eu-central-1:000000000000:t"), Message: aws.String("m")},
		func(o *sns.Options) { o.RetryMaxAttempts = 1 })
	_, _ = c.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]dynamodbtypes.AttributeValue{
		"k": &dynamodbtypes.AttributeValueMemberS{Value: "v"},
	}}, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })

	tests := []struct {
		name    string
		service string
		check   func(*http.Request) bool
	}{
		{name: "kinesis", service: "kinesis", check: func(r *http.Request) bool {
			return r.Header.Get("X-Amz-Target") == "Kinesis_20131202.DescribeStreamSummary"
		}},
		{name: "cloudwatch", service: "monitoring", check: func(r *http.Request) bool {
			return strings.HasSuffix(r.URL.Path, "/operation/GetMetricData")
		}},
		{name: "sns", service: "sns", check: func(r *http.Request) bool { return r.Method == http.MethodPost }},
		{name: "dynamodb", service: "dynamodb", check: func(r *http.Request) bool {
			return r.Header.Get("X-Amz-Target") == "DynamoDB_20120810.GetItem"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := servers[tt.name].last(t)
			if !tt.check(r) {
				t.Errorf("unexpected request %s %s headers %v", r.Method, r.URL, r.Header)
			}
			auth := r.Header.Get("Authorization")
			if want := "Credential=AKIDTEST/"; !strings.Contains(auth, want) {
				t.Errorf("Authorization %q lacks %q", auth, want)
			}
			if want := "/eu-central-1/" + tt.service + "/"; !strings.Contains(auth, want) {
				t.Errorf("Authorization %q not signed for %q", auth, want)
			}
		})
	}
}

type call struct{ service, operation, code string }

func TestCallObserver(t *testing.T) {
	isolate(t)
	var mu sync.Mutex
	var calls []call
	observe := func(service, operation string, err error) {
		mu.Lock()
		defer mu.Unlock()
		code := ""
		if err != nil {
			code = ErrorCode(err)
		}
		calls = append(calls, call{service: service, operation: operation, code: code})
	}
	kinesisAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".ListStreams") {
			_, _ = w.Write([]byte(`{"StreamNames":[],"HasMoreStreams":false}`))
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"Stream s not found"}`))
	}))
	t.Cleanup(kinesisAPI.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	c, err := Load(context.Background(), "eu-west-1", Endpoints{Kinesis: kinesisAPI.URL, SNS: closed.URL}, WithCallObserver(observe))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, _ = c.Kinesis.ListStreams(ctx, &kinesis.ListStreamsInput{})
	_, _ = c.Kinesis.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
	_, _ = c.SNS.Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:eu-west-1:000000000000:t"), Message: aws.String("m")},
		func(o *sns.Options) { o.RetryMaxAttempts = 1 })
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, _ = c.Kinesis.ListStreams(canceled, &kinesis.ListStreamsInput{})

	want := []call{
		{service: "kinesis", operation: "ListStreams"},
		{service: "kinesis", operation: "DescribeStreamSummary", code: "ResourceNotFoundException"},
		{service: "sns", operation: "Publish", code: "NetworkError"},
		{service: "kinesis", operation: "ListStreams", code: "Canceled"},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != len(want) {
		t.Fatalf("observed %+v, want %+v", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Errorf("call %d = %+v, want %+v", i, calls[i], want[i])
		}
	}
}
