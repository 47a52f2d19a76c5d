package main

import (
	"log/slog"

	"github.com/hermes-hub/hermes/hub"
	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/redis"
)

// minLease is the shortest --lease: renewals every third of it must not
// become a busy loop against Redis.
const minLease = redis.MinLease

// subscriptionStore picks where the subscription API finds the active
// subscriptions: in Redis, shared by every node, when the transport is
// Redis and the feature is on; nil (this process's, in memory) otherwise.
func subscriptionStore(cfg *serveConfig, tr transport.Transport, logger *slog.Logger) (hub.SubscriptionStore, error) {
	rt, ok := tr.(*redis.Transport)
	if !ok || !cfg.Subscriptions {
		return nil, nil
	}
	p, err := redis.NewPresence(rt.Client(), redis.PresenceOptions{
		Prefix: rt.Stream(),
		Lease:  cfg.Lease,
		Logger: logger.With("component", "subscriptions"),
	})
	if err != nil {
		return nil, err
	}
	logger.Info("subscriptions listed in Redis for every node", "node", p.NodeID(), "lease", cfg.Lease)
	return p, nil
}
