package awsclient

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// closingBody fails every read once closed, as the SDK's request body does
// once the SDK has its response.
type closingBody struct {
	r      io.Reader
	closed bool
}

func (b *closingBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errors.New("read on closed body")
	}
	return b.r.Read(p)
}

func (b *closingBody) Close() error { b.closed = true; return nil }

type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// The transport reads the body it was given after the SDK closed its own:
// with OwnBodies that read succeeds, and carries the same bytes.
func TestOwnBodies(t *testing.T) {
	orig := &closingBody{r: strings.NewReader("GetMetricData payload")}
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/", orig)
	if err != nil {
		t.Fatal(err)
	}
	var sent []byte
	c := OwnBodies(doFunc(func(r *http.Request) (*http.Response, error) {
		_ = orig.Close() // the SDK, done with its response
		var err error
		if sent, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		if r.ContentLength != int64(len(sent)) {
			t.Errorf("content length %d for %d bytes", r.ContentLength, len(sent))
		}
		again, err := r.GetBody()
		if err != nil {
			return nil, err
		}
		if b, _ := io.ReadAll(again); !bytes.Equal(b, sent) {
			t.Errorf("GetBody gave %q, the body %q", b, sent)
		}
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody}, nil
	}))
	if _, err := c.Do(req); err != nil {
		t.Fatalf("the transport's read of the body failed: %v", err)
	}
	if string(sent) != "GetMetricData payload" {
		t.Fatalf("sent %q", sent)
	}

	// Without it, the same read fails: the race the wrapper closes.
	orig = &closingBody{r: strings.NewReader("GetMetricData payload")}
	req, _ = http.NewRequest(http.MethodPost, "http://127.0.0.1:1/", orig)
	_, err = doFunc(func(r *http.Request) (*http.Response, error) {
		_ = orig.Close()
		_, err := io.ReadAll(r.Body)
		return nil, err
	}).Do(req)
	if err == nil {
		t.Fatal("a closed body read without error: the test shows nothing")
	}
}
