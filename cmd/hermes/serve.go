package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/bolt"
	"github.com/hermes-hub/hermes/transport/memory"
)

const (
	// readHeaderTimeout stops clients that open connections and never
	// finish their headers. There is deliberately no ReadTimeout or
	// WriteTimeout: both would cut long-lived streams, whose deadlines the
	// hub manages itself (and a ReadTimeout would cancel the request
	// context of a subscriber mid-stream).
	readHeaderTimeout = 10 * time.Second
	// idleTimeout closes keep-alive connections nobody uses.
	idleTimeout = 2 * time.Minute
	// shutdownTimeout bounds the graceful part of a shutdown; the hub
	// spreads the end of streams over a few seconds within it.
	shutdownTimeout = 30 * time.Second
)

// keys are the verification keys of both roles, after --dev filled them in.
type keys struct {
	publisher, subscriber []byte
	// devSecret is set when --dev generated the secret (it is printed).
	devSecret []byte
}

func (a *app) serve(ctx context.Context, args []string) int {
	cfg, err := parseServe(args, a.env)
	if errors.Is(err, flag.ErrHelp) {
		writeServeUsage(a.stdout)
		return exitOK
	}
	if err != nil {
		return a.fail(err)
	}
	k, err := resolveKeys(cfg)
	if err != nil {
		return a.fail(err)
	}
	if cfg.Dev {
		applyDevDefaults(cfg)
	}
	logger := newLogger(a.stderr, cfg.LogLevel, cfg.LogFormat)

	// Listen before building anything that needs the address, so that
	// --addr HOST:0 works: the port is known only now.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return a.fail(fmt.Errorf("--addr: %w", err))
	}
	baseURL := "http://" + displayHostPort(cfg.Addr, ln.Addr())
	hubURL := baseURL + hub.Path

	h, authz, err := buildHub(cfg, k, hubURL, logger)
	if err != nil {
		ln.Close()
		return a.fail(err)
	}

	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		Protocols:         serverProtocols(),
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()

	// The dev banner comes first, so that whoever waits for the listening
	// line finds the tokens already printed.
	if cfg.Dev {
		writeDevBanner(a.stdout, cfg, k, baseURL)
	}
	// The exact phrase "listening on http://" is what tests and scripts
	// look for; keep it.
	logger.Info("listening on "+baseURL,
		"hub", hubURL,
		"transport", redactURL(cfg.Transport.url),
		"publisher_key", keyKind(k.publisher),
		"subscriber_key", keyKind(k.subscriber),
		"jwks", cfg.JWKSURL != "",
		"anonymous", cfg.Anonymous,
		"dev", cfg.Dev,
	)

	code := exitOK
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-serveDone:
		// Serve only returns early when the listener broke.
		logger.Error("server stopped", "err", err)
		serveDone <- err
		code = exitFailure
	}
	if err := shutdown(srv, h, logger); err != nil {
		code = exitFailure
	}
	authz.Close()
	if err := <-serveDone; err != nil && !errors.Is(err, http.ErrServerClosed) && code == exitOK {
		logger.Error("server stopped", "err", err)
		code = exitFailure
	}
	if code == exitOK {
		logger.Info("stopped")
	}
	return code
}

// shutdown stops accepting connections and ends the streams at the same
// time: http.Server.Shutdown alone would wait forever on streams, which
// only the hub can end. Past shutdownTimeout connections are cut.
func shutdown(srv *http.Server, h *hub.Hub, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	var srvErr, hubErr error
	wg.Go(func() { srvErr = srv.Shutdown(ctx) })
	wg.Go(func() { hubErr = h.Close(ctx) })
	wg.Wait()
	if srvErr != nil {
		logger.Warn("connections still open after the grace period; closing them", "err", srvErr)
		srv.Close()
	}
	if hubErr != nil {
		logger.Error("closing the hub", "err", hubErr)
	}
	return errors.Join(srvErr, hubErr)
}

// resolveKeys reads the configured keys and, in --dev mode without any,
// generates a secret. Without --dev, no key at all is refused: a hub
// nobody can publish to is a configuration mistake.
func resolveKeys(cfg *serveConfig) (keys, error) {
	var k keys
	var err error
	if k.publisher, err = loadKey(cfg.PublisherKey); err != nil {
		return keys{}, err
	}
	if k.subscriber, err = loadKey(cfg.SubscriberKey); err != nil {
		return keys{}, err
	}
	if k.publisher != nil || k.subscriber != nil || cfg.JWKSURL != "" {
		return k, nil
	}
	if !cfg.Dev {
		return keys{}, usageErrorf("no key to verify tokens: set --jwt-key (or HERMES_JWT_KEY), " +
			"or --publisher-jwt-key and --subscriber-jwt-key, or --jwks-url; " +
			"to try Hermes locally, run hermes serve --dev")
	}
	secret, err := newDevSecret()
	if err != nil {
		return keys{}, err
	}
	return keys{publisher: secret, subscriber: secret, devSecret: secret}, nil
}

// buildHub opens the transport and builds the authorizer and the hub. On
// error, whatever was opened is closed again.
func buildHub(cfg *serveConfig, k keys, hubURL string, logger *slog.Logger) (*hub.Hub, *auth.Authorizer, error) {
	// Relative topics and URL patterns resolve against the hub's public
	// URL; the resource id is that URL when it is configured.
	topicOpts := topic.Options{Base: hubURL}
	if cfg.ResourceID != "" {
		topicOpts.Base = cfg.ResourceID
	}
	authz, err := auth.New(auth.Config{
		PublisherKey:   k.publisher,
		SubscriberKey:  k.subscriber,
		PublisherAlg:   cfg.PublisherAlg,
		SubscriberAlg:  cfg.SubscriberAlg,
		JWKSURL:        cfg.JWKSURL,
		Issuer:         cfg.Issuer,
		ResourceID:     cfg.ResourceID,
		HubPath:        hub.Path,
		CookieNames:    cfg.CookieNames,
		PublishOrigins: cfg.PublishOrigins,
		TopicOptions:   topicOpts,
		Logger:         logger,
	})
	if err != nil {
		return nil, nil, usageErrorf("token settings (--jwt-key, --jwt-alg and their per-role forms, --jwks-url, --cookie-name, --publish-origins): %v", err)
	}
	tr, err := openTransport(cfg.Transport, logger)
	if err != nil {
		authz.Close()
		return nil, nil, fmt.Errorf("--transport: %w", err)
	}
	h, err := hub.New(hub.Config{
		Transport:    tr,
		Auth:         authz,
		Anonymous:    cfg.Anonymous,
		CORSOrigins:  cfg.CORSOrigins,
		TopicOptions: topicOpts,
		Heartbeat:    cfg.Heartbeat,
		WriteTimeout: cfg.WriteTimeout,
		Logger:       logger,
	})
	if err != nil {
		tr.Close()
		authz.Close()
		return nil, nil, fmt.Errorf("hub: %w", err)
	}
	return h, authz, nil
}

// openTransport opens the history store a --transport URL names.
func openTransport(spec transportSpec, logger *slog.Logger) (transport.Transport, error) {
	switch spec.kind {
	case "memory":
		return memory.New(spec.memory), nil
	case "bolt":
		opts := spec.bolt
		opts.Logger = logger
		t, err := bolt.Open(spec.boltPath, opts)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", spec.boltPath, err)
		}
		return t, nil
	default:
		return nil, fmt.Errorf("unsupported transport %q", spec.url)
	}
}

// serverProtocols enables HTTP/1.1 and HTTP/2 without TLS (prior
// knowledge), for clients and proxies that multiplex streams over h2c.
func serverProtocols() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &p
}

// newLogger builds the process logger on w (stderr).
func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// displayHostPort is the address to print and to build URLs from: the
// configured host (a name like localhost stays a name) with the port
// actually bound. A wildcard host becomes localhost, which is where the
// person reading the output can reach it.
func displayHostPort(configured string, bound net.Addr) string {
	host, port, err := net.SplitHostPort(configured)
	if err != nil {
		return bound.String()
	}
	if tcp, ok := bound.(*net.TCPAddr); ok {
		port = strconv.Itoa(tcp.Port)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// redactURL hides a password in a transport URL before it is logged.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	if _, has := u.User.Password(); !has {
		return s
	}
	return u.Redacted()
}
