package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Listener opens the loopback listener serve uses, with TLS when tlsOpts
// asks for it.
func Listener(addr string, tlsOpts TLSOptions) (net.Listener, error) {
	if err := CheckLoopback(addr); err != nil {
		return nil, err
	}
	var tlsConfig *tls.Config
	if tlsOpts.Enabled() {
		var err error
		if tlsConfig, err = tlsOpts.ServerConfig(); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if tlsConfig != nil {
		tlsConfig.NextProtos = []string{"h2", "http/1.1"}
		ln = tls.NewListener(ln, tlsConfig)
	}
	return ln, nil
}

// Serve serves handler on ln until ctx is done, then shuts down gracefully.
func Serve(ctx context.Context, ln net.Listener, handler http.Handler) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// A client that stalls mid-body must not hold a connection for ever.
		ReadTimeout:  2 * time.Minute,
		WriteTimeout: 3 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		// Envoy's default limit on request headers is 60 KiB.
		MaxHeaderBytes: 60 << 10,
		// "OPTIONS *" goes to the filters like any request instead of being
		// answered by Go's server.
		DisableGeneralOptionsHandler: true,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		return nil
	}
}

// StartDemoUpstream serves DemoUpstream on a free loopback port and returns
// its URL and a stop function.
func StartDemoUpstream() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("start the demo upstream: %w", err)
	}
	srv := &http.Server{Handler: DemoUpstream(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}
