package bench

import (
	"fmt"
	"io"
)

func writeUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: hermes bench SCENARIO --hub URL --jwt-key KEY [flags]

Puts load on a Mercure hub (Hermes or any other) and checks every event its
subscribers receive: latency from a timestamp in the data, loss, duplicates,
order, and private updates reaching only the subscribers they are for.

Scenarios:
  idle     open --subscribers idle streams (one topic each); time to connect
           them all, and with --pid the hub's memory per subscriber
  fanout   --subscribers on one topic; public updates at --rate, raised by
           --step every --step-duration until the p99 latency exceeds --p99
  publish  --publishers concurrent publishers for --duration: publishes/s,
           latency, errors by status
  replay   publish --history events, then subscribers reconnect with
           Last-Event-ID at each of --depths: events/s, time to first event,
           gaps, duplicates, order
  private  --subscribers each with a token of --patterns URL patterns
           (draft08) or URI templates (legacy) granting its own resources;
           private updates at a rising rate: p99, hub CPU per update, and
           unauthorized deliveries (must be 0)

Common flags:
  --hub URL                 the hub, e.g. http://localhost:3000/.well-known/mercure
  --jwt-key KEY             signing key for both roles: a secret, PEM private key, or @FILE
  --publisher-jwt-key KEY   the publishers' key, when the hub has one per role
  --subscriber-jwt-key KEY  the subscribers' key
  --alg ALG                 signing algorithm (default: HS256 for a secret, the key's own for PEM)
  --dialect D               legacy (mercure claim, topic=) or draft08 (authorization_details,
                            match=); default legacy
  --issuer ISS              draft08: the iss the hub trusts (required)
  --audience AUD            draft08: the hub's resource id (default: the --hub URL)
  --pid PID                 the hub's process id on this machine: its RSS and CPU time
                            (/proc/PID) are measured before and after each phase
  --json                    print the result as JSON instead of a table
  --topic-base URL          prefix of the topics (default https://bench.hermes.test/);
                            each run adds its own id
  --local-addrs IP,...      source addresses to spread connections over (default on
                            loopback: 127.0.0.1 and up, one per 10,000 subscribers, at least 2)
  --connect-concurrency N   connections opened at once (default 64)
  --connect-timeout D       per connection (default 10s)
  --readers poll|goroutine  how the tool reads its streams: poll (default) reads them all
                            from one poller per processor on Linux, so that the tool's own
                            cost per event stays below the hub's; goroutine: one each
  --progress-every D        progress line interval when stderr is not a terminal (default 5s)
  --payload BYTES           data size of each update (default 100)

Scenario flags (defaults per scenario):
  --publish-hub URL fanout: publish to this hub while the subscribers are on --hub,
                    e.g. another node of a cluster: the latency is then node to
                    node (in draft08 the nodes need one --resource-id)
  --subscribers N   idle 1000, fanout 100, replay 10 (per depth), private 50
  --publishers N    concurrent publish connections: fanout 8, publish 16, replay 8, private 8
  --hold D          idle: how long the streams are held before measuring (5s)
  --duration D      publish: how long to publish (10s)
  --rate R          first offered rate in updates/s: fanout 100, private 10
  --step S          next rate: +S, or xF to multiply (default x2)
  --step-duration D publishing time per step (5s)
  --max-rate R      stop before a step above R (default none)
  --max-steps N     at most N steps (12)
  --p99 D           latency objective that ends the sweep (100ms)
  --drain D         how long to wait for late deliveries after a step; replay: for
                    the next event before a round is ended (5s)
  --history H       replay: events published first (10000)
  --depths LIST     replay: events missed per round, comma-separated, "all" for
                    everything (10,100,1000,all); the full replay always runs first
  --patterns P      private: patterns per token, at most 100 (100)

The hub under test needs a token to subscribe or --anonymous, and a private
sweep needs subscriptions allowed by topic selector (the tool subscribes to
every topic of its run and relies on the token's grants).
`)
}
