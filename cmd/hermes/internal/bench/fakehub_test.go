package bench

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
)

// fakeHub is a deliberately broken Mercure hub: it accepts any token and
// breaks delivery in the ways the tool must report. Update k (counted from
// 0 in publish order) is affected when k%10 equals the mode's position.
type fakeHub struct {
	drop      bool // k%10 == 3 never reaches anyone
	duplicate bool // k%10 == 5 is written twice
	reorder   bool // k%10 == 7 is held and written after k+1
	// replayAll ignores Last-Event-ID and replays the whole history.
	replayAll bool
	// fail answers 503 to publishes with k%3 == 2 (they are not stored).
	fail bool
	// endEvery ends each stream cleanly after that many events: the
	// subscribers must come back with Last-Event-ID and miss nothing.
	endEvery int

	mu      sync.Mutex
	k       int
	history []fakeEvent
	subs    map[chan fakeEvent]bool
	held    *fakeEvent
}

type fakeEvent struct {
	id, data string
}

func (f *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		f.publish(w, r)
		return
	}
	f.subscribe(w, r)
}

func (f *fakeHub) publish(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.k
	f.k++
	if f.fail && k%3 == 2 {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	ev := fakeEvent{id: "urn:fake:" + strconv.Itoa(k), data: r.PostForm.Get("data")}
	f.history = append(f.history, ev)
	switch {
	case f.drop && k%10 == 3:
	case f.duplicate && k%10 == 5:
		f.send(ev)
		f.send(ev)
	case f.reorder && k%10 == 7:
		f.held = &ev
	default:
		f.send(ev)
		if f.held != nil {
			f.send(*f.held)
			f.held = nil
		}
	}
	fmt.Fprint(w, ev.id)
}

// send queues ev for every subscriber: private updates too, since this
// fake reads no token (what the private scenario must catch).
func (f *fakeHub) send(ev fakeEvent) {
	for ch := range f.subs {
		ch <- ev
	}
}

func (f *fakeHub) subscribe(w http.ResponseWriter, r *http.Request) {
	ch := make(chan fakeEvent, 100000)
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[chan fakeEvent]bool{}
	}
	f.subs[ch] = true
	// History after the cursor (or all of it when broken).
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		from := len(f.history)
		for i, ev := range f.history {
			if ev.id == last {
				from = i + 1
			}
		}
		if f.replayAll {
			from = 0
		}
		for _, ev := range f.history[from:] {
			ch <- ev
		}
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.subs, ch)
		f.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	for sent := 0; f.endEvery == 0 || sent < f.endEvery; sent++ {
		select {
		case <-r.Context().Done():
			return
		case ev := <-ch:
			fmt.Fprintf(w, "id: %s\ndata: %s\n\n", ev.id, ev.data)
			w.(http.Flusher).Flush()
		}
	}
}
