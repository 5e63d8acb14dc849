package observe

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// ServerLimits bound what clients of the HTTP endpoint can hold: without
// them, 8,000 idle keep-alive connections took 160 MB and as many file
// descriptors.
type ServerLimits struct {
	// MaxConnections is how many connections are served at once; further
	// ones wait in the kernel's accept queue until one closes.
	MaxConnections int
	// ReadHeaderTimeout is how long a client has to send a request's
	// headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is how long a client has to send a whole request.
	ReadTimeout time.Duration
	// WriteTimeout is how long a response may take, from the end of the
	// request's headers.
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its next
	// request.
	IdleTimeout time.Duration
	// MaxHeaderBytes is the largest request header accepted.
	MaxHeaderBytes int
}

// DefaultServerLimits are the limits of the daemon's endpoint: enough for
// Prometheus, a load balancer's health checks and a person with curl.
var DefaultServerLimits = ServerLimits{
	MaxConnections:    64,
	ReadHeaderTimeout: 5 * time.Second,
	ReadTimeout:       10 * time.Second,
	WriteTimeout:      30 * time.Second,
	IdleTimeout:       30 * time.Second,
	MaxHeaderBytes:    16 << 10,
}

// Server is the HTTP server of /metrics, /healthz and /readyz, with its
// limits.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Listen listens on addr (HOST:PORT) and returns a server of h bounded by
// limits; Serve starts it.
func Listen(addr string, h http.Handler, limits ServerLimits) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Server{
		ln: newLimitListener(ln, limits.MaxConnections),
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: limits.ReadHeaderTimeout,
			ReadTimeout:       limits.ReadTimeout,
			WriteTimeout:      limits.WriteTimeout,
			IdleTimeout:       limits.IdleTimeout,
			MaxHeaderBytes:    limits.MaxHeaderBytes,
		},
	}, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Shutdown; it returns http.ErrServerClosed then.
func (s *Server) Serve() error { return s.srv.Serve(s.ln) }

// Shutdown stops the server, waiting until ctx is done for requests in
// flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// limitListener accepts at most n connections at once: Accept waits for a
// slot, and closing a connection frees its slot (golang.org/x/net/netutil's
// LimitListener, without the dependency).
type limitListener struct {
	net.Listener
	slots     chan struct{}
	closeOnce sync.Once
	done      chan struct{}
}

func newLimitListener(ln net.Listener, n int) *limitListener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, max(n, 1)), done: make(chan struct{})}
}

// Accept implements net.Listener.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

// Close implements net.Listener.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn frees its listener's slot once, when first closed.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

// Close implements net.Conn.
func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
