package topic

import (
	"runtime"
	"sync"
	"weak"
)

// Interning (issue 9): a hub sees the same patterns over and over (every
// token of an application lists its users' resources the same way, every
// browser tab subscribes with the same selectors), and everything
// downstream is cheaper when one distinct pattern is one *Matcher: the
// hub's indexes key their slots by pointer, so a pattern carried by a
// thousand tokens is one slot evaluated once per update, and its decisions
// are cached once.
//
// The table holds weak pointers: a matcher stays interned exactly as long
// as something (a grant, a subscription, the grant cache) holds it, with no
// reference counting at the call sites and no bound to pick, since its
// size follows what is alive anyway. The compiled regular expressions
// themselves are also kept a while after their last user goes
// (compiledPatterns), so a reconnecting client does not compile again.
var interned = internTable{m: make(map[compiledKey]weak.Pointer[Matcher])}

type internTable struct {
	mu sync.Mutex
	m  map[compiledKey]weak.Pointer[Matcher]
}

// get returns the live matcher of k, if any.
func (t *internTable) get(k compiledKey) *Matcher {
	t.mu.Lock()
	defer t.mu.Unlock()
	if wp, ok := t.m[k]; ok {
		return wp.Value()
	}
	return nil
}

// put interns m under k and returns the matcher to use: m, or the one a
// concurrent Compile of the same pattern interned first.
func (t *internTable) put(k compiledKey, m *Matcher) *Matcher {
	t.mu.Lock()
	defer t.mu.Unlock()
	if wp, ok := t.m[k]; ok {
		if old := wp.Value(); old != nil {
			return old
		}
	}
	t.m[k] = weak.Make(m)
	// When m is collected, its entry goes, unless a newer matcher of the
	// same pattern replaced it meanwhile.
	runtime.AddCleanup(m, t.forget, k)
	return m
}

func (t *internTable) forget(k compiledKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if wp, ok := t.m[k]; ok && wp.Value() == nil {
		delete(t.m, k)
	}
}

// InternedCount is the number of distinct patterns currently interned
// (tests, metrics).
func InternedCount() int {
	interned.mu.Lock()
	defer interned.mu.Unlock()
	return len(interned.m)
}
