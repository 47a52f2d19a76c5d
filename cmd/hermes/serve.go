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
	"net/http/pprof"
	"net/url"
	"strconv"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/hub/ui"
	"github.com/hermes-hub/hermes/metrics"
	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/bolt"
	"github.com/hermes-hub/hermes/transport/memory"
	"github.com/hermes-hub/hermes/transport/redis"
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
	// shutdownGrace is how long a shutdown may take beyond --shutdown-drain
	// (publishes in flight, a stream stuck in a write, the history file's
	// last commit) before the remaining connections are cut.
	shutdownGrace = 25 * time.Second
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
	a.ensureProcessorsForSync(cfg.Transport, logger)
	defer a.startGCFloor(logger)()

	// Listen before building anything that needs the address, so that
	// --addr HOST:0 works: the port is known only now.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return a.fail(fmt.Errorf("--addr: %w", err))
	}
	scheme := "http"
	var ts *tlsServing
	if cfg.TLS.enabled() {
		if ts, err = newTLSServing(cfg.TLS, logger); err != nil {
			ln.Close()
			return a.fail(err)
		}
		scheme = "https"
	}
	baseURL := scheme + "://" + displayHostPort(cfg.Addr, ln.Addr())
	hubURL := baseURL + hub.Path
	if cfg.Dev && cfg.ResourceID == "" {
		// The audience never comes from a request (a client chooses its
		// Host), so dev mode names the URL it listens on.
		cfg.ResourceID = hubURL
	}
	var redirectLn net.Listener
	if cfg.TLS.RedirectAddr != "" {
		if redirectLn, err = net.Listen("tcp", cfg.TLS.RedirectAddr); err != nil {
			ln.Close()
			return a.fail(fmt.Errorf("--http-redirect-addr: %w", err))
		}
		defer redirectLn.Close()
	}

	var adminLn net.Listener
	if cfg.AdminAddr != "" {
		if adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
			ln.Close()
			return a.fail(fmt.Errorf("--admin-addr: %w", err))
		}
	}
	// Metrics cost a little on every publish and stream; without an admin
	// listener nobody could read them.
	var m *metrics.Metrics
	if adminLn != nil {
		m = metrics.New()
	}

	h, authz, err := buildHub(cfg, k, hubURL, logger, m)
	if err != nil {
		ln.Close()
		if adminLn != nil {
			adminLn.Close()
		}
		return a.fail(err)
	}
	if m != nil {
		m.AuthCaches(authCacheStats(authz)) // metrics_caches.go
	}

	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		Protocols:         serverProtocols(),
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveDone := make(chan error, 1)
	if ts != nil {
		srv.TLSConfig = ts.config
		srv.Protocols = tlsProtocols()
		go func() { serveDone <- srv.ServeTLS(ln, "", "") }()
		stopTLS := ts.start(ctx, cfg.TLS, redirectLn, ln.Addr(), logger)
		defer stopTLS()
	} else {
		// Keep-alive publishers are served without net/http after their
		// first publish (hub/h1publish.go); plain text only.
		pl := h.PublishListener(ln, readHeaderTimeout, idleTimeout)
		go func() { serveDone <- srv.Serve(pl) }()
	}
	var admin *http.Server
	adminDone := make(chan error, 1)
	if adminLn != nil {
		admin = &http.Server{
			Handler:           adminHandler(h, m, cfg.PProf),
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
		go func() { adminDone <- admin.Serve(adminLn) }()
	}

	// The dev banner comes first, so that whoever waits for the listening
	// line finds the tokens already printed.
	if cfg.Dev {
		writeDevBanner(a.stdout, cfg, k, baseURL)
	}
	if cfg.Issuer != "" && cfg.ResourceID == "" {
		logger.Warn("--issuer is set but --resource-id is not: draft-08 tokens will be refused; set --resource-id to the public hub URL")
	}
	// The exact phrase "listening on http://" (https:// with TLS) is what
	// tests and scripts look for; keep it.
	logger.Info("listening on "+baseURL,
		"hub", hubURL,
		"transport", redactURL(cfg.Transport.url),
		"publisher_key", keyKind(k.publisher),
		"subscriber_key", keyKind(k.subscriber),
		"jwks", cfg.JWKSURL != "",
		"anonymous", cfg.Anonymous,
		"dev", cfg.Dev,
		"tls", ts.describe(),
	)
	if adminLn != nil {
		// Like the line above, "admin listening on http://" is looked for
		// by tests and scripts.
		logger.Info("admin listening on http://"+displayHostPort(cfg.AdminAddr, adminLn.Addr()), "pprof", cfg.PProf)
	}

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
	if err := shutdown(srv, h, cfg.ShutdownDrain, logger); err != nil {
		code = exitFailure
	}
	authz.Close()
	if admin != nil {
		// Last, so that /metrics and /readyz answer during the drain.
		_ = admin.Close()
		if err := <-adminDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("admin listener stopped", "err", err)
		}
	}
	if err := <-serveDone; err != nil && !errors.Is(err, http.ErrServerClosed) && code == exitOK {
		logger.Error("server stopped", "err", err)
		code = exitFailure
	}
	if code == exitOK {
		logger.Info("stopped")
	}
	return code
}

// shutdown stops the hub in this order:
//  1. the server stops accepting connections while the hub refuses new
//     streams and ends the open ones at random moments over drain, both at
//     once: http.Server.Shutdown waits for active handlers, and only the
//     hub can end a stream;
//  2. once the server has no request left, the hub closes: publishes in
//     flight were answered by then, so the transport, closed last, holds
//     every acknowledged update.
//
// Past drain + shutdownGrace the remaining connections are cut.
func shutdown(srv *http.Server, h *hub.Hub, drain time.Duration, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), drain+shutdownGrace)
	defer cancel()
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Shutdown(ctx) }()
	drainErr := h.Shutdown(ctx, drain)
	srvErr := <-srvDone
	if srvErr != nil {
		logger.Warn("connections still open after the grace period; closing them", "err", srvErr)
		srv.Close()
	}
	hubErr := errors.Join(drainErr, h.Close(ctx))
	if hubErr != nil {
		logger.Error("closing the hub", "err", hubErr)
	}
	return errors.Join(srvErr, hubErr)
}

// adminHandler serves the admin listener: metrics, the health probes (the
// hub's own, also served on the main listener) and, when asked for,
// profiles. pprof's handlers are mounted here by hand, never on
// http.DefaultServeMux, so they cannot leak onto the public listener.
func adminHandler(h *hub.Hub, m *metrics.Metrics, withPProf bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("GET /healthz", h)
	mux.Handle("GET /readyz", h)
	if withPProf {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
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
func buildHub(cfg *serveConfig, k keys, hubURL string, logger *slog.Logger, m *metrics.Metrics) (*hub.Hub, *auth.Authorizer, error) {
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
	tr, err := openTransport(cfg.Transport, logger, m)
	if err != nil {
		authz.Close()
		return nil, nil, fmt.Errorf("--transport: %w", err)
	}
	store, err := subscriptionStore(cfg, tr, logger)
	if err != nil {
		tr.Close()
		authz.Close()
		return nil, nil, fmt.Errorf("--lease: %w", err)
	}
	hcfg := hub.Config{
		SubscriptionStore:       store,
		Transport:               tr,
		Auth:                    authz,
		Anonymous:               cfg.Anonymous,
		Subscriptions:           cfg.Subscriptions,
		CORSOrigins:             cfg.CORSOrigins,
		TopicOptions:            topicOpts,
		Heartbeat:               cfg.Heartbeat,
		WriteTimeout:            cfg.WriteTimeout,
		MaxBodyBytes:            cfg.MaxBody,
		QueueBytes:              cfg.QueueBytes,
		MaxMatcherCost:          cfg.MaxMatcherCost,
		MaxSubscribers:          cfg.MaxSubscribers,
		MaxSubscribersPerClient: cfg.MaxSubscribersPerClient,
		Logger:                  logger,
	}
	if cfg.UI {
		hcfg.UI = ui.New(ui.Options{Checker: authz, Keys: uiKeys(cfg, k), Logger: logger})
	}
	if m != nil {
		// Set only when non-nil: a nil *metrics.Metrics in the interface
		// would not be a nil interface.
		hcfg.Metrics = m
	}
	h, err := hub.New(hcfg)
	if err != nil {
		tr.Close()
		authz.Close()
		return nil, nil, fmt.Errorf("hub: %w", err)
	}
	return h, authz, nil
}

// uiKeys describes the verification keys for the debug UI's token check:
// their kind and algorithm, never their bytes.
func uiKeys(cfg *serveConfig, k keys) []ui.KeyInfo {
	describe := func(role string, key []byte, alg string) ui.KeyInfo {
		kind := keyKind(key)
		if key == nil && cfg.JWKSURL != "" {
			kind = "jwks"
		}
		if alg == "" && kind == "secret" {
			alg = "HS256"
		}
		return ui.KeyInfo{Role: role, Kind: kind, Alg: alg}
	}
	return []ui.KeyInfo{
		describe(auth.Publisher.String(), k.publisher, cfg.PublisherAlg),
		describe(auth.Subscriber.String(), k.subscriber, cfg.SubscriberAlg),
	}
}

// openTransport opens the history store a --transport URL names.
func openTransport(spec transportSpec, logger *slog.Logger, m *metrics.Metrics) (transport.Transport, error) {
	switch spec.kind {
	case "memory":
		return memory.New(spec.memory), nil
	case "bolt":
		opts := spec.bolt
		opts.Logger = logger
		if m != nil {
			opts.Metrics = m.Bolt()
		}
		t, err := bolt.Open(spec.boltPath, opts)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", spec.boltPath, err)
		}
		return t, nil
	case "redis":
		opts := spec.redis
		opts.Logger = logger
		// go-redis logs dial failures on its own: keep them in the
		// node's log format (--log-format json stays JSON).
		redis.RouteClientLogs(logger)
		if m != nil {
			opts.Metrics = m.Redis()
		}
		t, err := redis.Open(opts)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", redactURL(spec.url), err)
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
