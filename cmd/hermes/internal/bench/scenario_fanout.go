package bench

import (
	"context"
	"fmt"
	"net/url"
)

// fanout: S subscribers of one topic, public updates at a rising rate.
func (e *env) fanout(ctx context.Context, res *Result) error {
	o := e.o
	t := e.topic("fanout")
	tok, err := e.subscriberToken([]string{t}, false)
	if err != nil {
		return err
	}
	query := url.Values{e.matchParam(): {t}}.Encode()
	subs, cs := e.connectAll(ctx, o.Subscribers, func(i int) *subscriber {
		return &subscriber{i: i, tr: newTracker(), req: streamRequest{query: query, token: tok}}
	})
	res.Connect = &cs
	if cs.Opened == 0 {
		return fmt.Errorf("no subscriber could connect: %v", cs.firstErr)
	}
	e.pub = newPublisher(e, o.Publishers)
	r := &SweepResult{Subscribers: cs.Opened}
	e.sweep(ctx, sweepSpec{
		subs: subs,
		make: func(_ int, _ int64, p payload) update {
			return update{topic: t, data: p.encode(o.PayloadSize)}
		},
	}, r)
	res.Sweep = r
	return nil
}
