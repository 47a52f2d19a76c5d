package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/hermes-hub/hermes/transport"
)

// MetadataPath is where the protected resource metadata of the hub is
// served (RFC 9728, PRM-1): the well-known prefix followed by the hub path.
const MetadataPath = "/.well-known/oauth-protected-resource" + Path

// metadataURL is the absolute URL of the metadata document, named in 401
// challenges (ERR-1, PRM-5). It is taken from the configured resource
// identifier, never from the request: the challenge must not reflect a
// Host the client chose. Without a resource id it is "".
func (h *Hub) metadataURL() string {
	u, err := url.Parse(h.cfg.Auth.ResourceID())
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + MetadataPath
}

// metadata serves the protected resource metadata: the value clients put in
// aud, how tokens are presented, the cookie name. Its presence is also how
// clients tell a draft-08 hub from a 0.x one (PRM-4).
//
// Without a configured resource id there is no document: the hub accepts
// no draft-08 token then, and a resource taken from the request's Host
// would put a client-chosen value in a cacheable response.
func (h *Hub) metadata(w http.ResponseWriter, r *http.Request) {
	resource := h.cfg.Auth.ResourceID()
	if resource == "" {
		http.NotFound(w, r)
		return
	}
	doc := struct {
		Resource           string   `json:"resource"`
		BearerMethods      []string `json:"bearer_methods_supported"`
		DetailsTypes       []string `json:"authorization_details_types_supported"`
		Cookie             string   `json:"mercure_cookie,omitempty"`
		MercureSubscribers bool     `json:"mercure_subscriptions,omitempty"`
	}{
		Resource: resource,
		// Only the header is listed: the cookie is announced through
		// mercure_cookie, and query tokens are a legacy-only extension.
		BearerMethods: []string{"header"},
		DetailsTypes:  []string{"https://mercure.rocks/authorization-detail"},
		Cookie:        h.cfg.CookieName,
		// Advertised only when the feature is on (ACT-1).
		MercureSubscribers: h.cfg.Subscriptions,
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_ = json.NewEncoder(w).Encode(doc)
}

// healthz answers 200 while the process serves requests (liveness).
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 when the transport answers, 503 otherwise (readiness):
// a hub whose history is unreachable cannot accept publishes.
func (h *Hub) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// Not ready from the start of a shutdown on, so that load balancers
	// stop sending new subscribers while the streams drain.
	if h.shuttingDown() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	if c, ok := h.cfg.Transport.(transport.Checker); ok {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := c.Check(ctx); err != nil {
			h.writeError(w, r, &storageError{OpCheck, "transport unavailable", err})
			return
		}
	}
	_, _ = w.Write([]byte("ok\n"))
}
