// Package histogram records latencies in log-linear buckets (the idea of
// HdrHistogram): constant memory whatever the number of samples, safe for
// concurrent recording, and quantiles within 1/128 (0.8 %) of the exact
// sample value.
package histogram

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// subBits sets the precision: 2^subBits buckets per power of two.
const subBits = 7

const (
	subCount = 1 << subBits
	// buckets covers every uint64: values below subCount exactly, then
	// subCount buckets per power of two.
	buckets = (64 - subBits + 1) * subCount
)

// H is a latency histogram. The zero value is ready to use; all methods
// may be called concurrently.
type H struct {
	counts [buckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
}

func index(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// upper is the largest value that falls in bucket i.
func upper(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	shift := i/subCount - 1
	mantissa := uint64(i%subCount + subCount)
	return (mantissa+1)<<shift - 1
}

// Record adds one sample; a negative duration (a clock that went back)
// counts as zero.
func (h *H) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[index(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count is the number of samples.
func (h *H) Count() uint64 { return h.n.Load() }

// Max is the largest sample, exactly.
func (h *H) Max() time.Duration { return time.Duration(h.max.Load()) }

// Mean is the average sample, exactly; zero without samples.
func (h *H) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Quantile returns the smallest recorded bucket bound b such that at least
// q of the samples are at most b (nearest rank), never above Max. Zero
// without samples.
func (h *H) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(min(upper(i), h.max.Load()))
		}
	}
	return h.Max()
}

// Merge adds o's samples to h.
func (h *H) Merge(o *H) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sum.Add(o.sum.Load())
	v := o.max.Load()
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}
