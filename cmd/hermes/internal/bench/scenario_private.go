package bench

import (
	"context"
	"fmt"
	"net/url"
	"sync"
)

// private: S subscribers, each subscribed to every topic of the run but
// holding a token of P patterns that grant only its own resources; each
// private update is meant for one of them and names a new resource, so the
// hub must check grants for every update. Every subscriber checks that
// each update it receives was meant for it.
func (e *env) private(ctx context.Context, res *Result) error {
	o := e.o
	nsubs := int64(o.Subscribers)
	// Update seq goes to subscriber seq%S, resource (seq/S)%P; a
	// subscriber's seen set is indexed by seq/S.
	e.slot = func(seq int64) int64 { return seq / nsubs }
	resource := func(user, j int) string { return e.topic(fmt.Sprintf("u/%d/r/%d/", user, j)) }

	var subsParam, subsValue string
	if o.Dialect == DialectDraft08 {
		subsParam, subsValue = "match_urlpattern", e.topic("*")
	} else {
		subsParam, subsValue = "topic", e.topic("{+rest}")
	}
	query := url.Values{subsParam: {subsValue}}.Encode()

	// Tokens are minted up front so that minting is not in the connect time.
	tokens := make([]string, o.Subscribers)
	var wg sync.WaitGroup
	var mintErr error
	var mu sync.Mutex
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < o.Subscribers; i += 4 {
				grants := make([]string, o.Patterns)
				for j := range grants {
					if o.Dialect == DialectDraft08 {
						grants[j] = resource(i, j) + "*"
					} else {
						grants[j] = resource(i, j) + "{id}"
					}
				}
				tok, err := e.subscriberToken(grants, true)
				if err != nil {
					mu.Lock()
					mintErr = err
					mu.Unlock()
					return
				}
				tokens[i] = tok
			}
		})
	}
	wg.Wait()
	if mintErr != nil {
		return mintErr
	}

	subs, cs := e.connectAll(ctx, o.Subscribers, func(i int) *subscriber {
		return &subscriber{i: i, tr: newTracker(), req: streamRequest{query: query, token: tokens[i]}}
	})
	res.Connect = &cs
	if cs.Opened == 0 {
		return fmt.Errorf("no subscriber could connect: %v", cs.firstErr)
	}
	e.pub = newPublisher(e, o.Publishers)
	r := &SweepResult{Subscribers: cs.Opened, Patterns: o.Patterns}
	e.sweep(ctx, sweepSpec{
		subs:   subs,
		target: func(seq int64) int { return int(seq % nsubs) },
		make: func(_ int, seq int64, p payload) update {
			j := int((seq / nsubs) % int64(o.Patterns))
			return update{topic: resource(p.target, j) + fmt.Sprint(seq), data: p.encode(o.PayloadSize), private: true}
		},
	}, r)
	res.Sweep = r
	return nil
}
