package stream

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
)

// withoutRetryOn returns a per-call option that wraps the client's retryer so
// that errors with one of the codes are final. Everything else (attempts,
// backoff, the retry token bucket, other retryable errors) stays as the
// client's retryer has it.
func withoutRetryOn(codes ...string) func(*kinesis.Options) {
	return func(o *kinesis.Options) {
		if o.Retryer == nil {
			return
		}
		o.Retryer = &finalOn{RetryerV2: asRetryerV2(o.Retryer), codes: codes}
	}
}

// finalOn is a retryer that never retries errors with one of its codes.
type finalOn struct {
	aws.RetryerV2
	codes []string
}

// IsErrorRetryable is false for errors with one of the codes and otherwise
// what the wrapped retryer says.
func (r *finalOn) IsErrorRetryable(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		for _, c := range r.codes {
			if apiErr.ErrorCode() == c {
				return false
			}
		}
	}
	return r.RetryerV2.IsErrorRetryable(err)
}

// asRetryerV2 adapts a retryer without GetAttemptToken the way the SDK's own
// middleware does: the initial token serves every attempt.
func asRetryerV2(r aws.Retryer) aws.RetryerV2 {
	if v2, ok := r.(aws.RetryerV2); ok {
		return v2
	}
	return retryerV1{Retryer: r}
}

type retryerV1 struct{ aws.Retryer }

func (r retryerV1) GetAttemptToken(context.Context) (func(error) error, error) {
	return r.GetInitialToken(), nil
}
