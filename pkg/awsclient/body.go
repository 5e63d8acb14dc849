package awsclient

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// OwnBodies wraps an SDK HTTP client (nil: the SDK's default) so that the
// transport is given a request body of its own: the bytes the SDK built,
// read once before the request is sent.
//
// Go's transport reads a request body once more after its declared length
// is written, to check that it ends there. A server may answer before that
// read, and the SDK then closes the body it built; the read fails, and the
// transport closes the connection under the response it is still reading
// ("deserialization failed, ... use of closed network connection", a known
// race of the SDK under load: aws/aws-sdk-go-v2 issues 1825 and 2737).
// With a body of its own, nothing closes it early. The daemon's requests are
// small (the largest is a GetMetricData of 500 queries), so reading one into
// memory costs nothing worth counting.
func OwnBodies(next aws.HTTPClient) aws.HTTPClient {
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	return ownBodies{next: next}
}

type ownBodies struct{ next aws.HTTPClient }

func (c ownBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return c.next.Do(r)
	}
	data, err := io.ReadAll(r.Body)
	closeErr := r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	if closeErr != nil {
		return nil, fmt.Errorf("close request body: %w", closeErr)
	}
	own := r.Clone(r.Context())
	own.Body = io.NopCloser(bytes.NewReader(data))
	own.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	own.ContentLength = int64(len(data))
	return c.next.Do(own)
}
