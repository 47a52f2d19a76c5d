package histogram

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

// exact is the nearest-rank quantile of sorted samples.
func exact(sorted []time.Duration, q float64) time.Duration {
	rank := max(int(math.Ceil(q*float64(len(sorted)))), 1)
	return sorted[rank-1]
}

func TestQuantilesWithinPrecision(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() time.Duration{
		"uniform 0-100ms": func() time.Duration { return time.Duration(rng.Int64N(int64(100 * time.Millisecond))) },
		"lognormal":       func() time.Duration { return time.Duration(math.Exp(rng.NormFloat64()*2 + 13)) },
		"small exact":     func() time.Duration { return time.Duration(rng.Int64N(100)) },
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			var h H
			samples := make([]time.Duration, 20000)
			for i := range samples {
				samples[i] = gen()
				h.Record(samples[i])
			}
			slices.Sort(samples)
			for _, q := range []float64{0, 0.5, 0.9, 0.99, 0.999, 1} {
				want, got := exact(samples, q), h.Quantile(q)
				// The bucket's upper bound is at most 1/128 above the sample.
				if got < want || float64(got-want) > float64(want)/128+1 {
					t.Errorf("q%v: got %v, exact %v", q, got, want)
				}
			}
			if h.Max() != samples[len(samples)-1] {
				t.Errorf("max %v, want %v", h.Max(), samples[len(samples)-1])
			}
			if h.Count() != uint64(len(samples)) {
				t.Errorf("count %d", h.Count())
			}
		})
	}
}

// A single slow sample among fast ones is what a p99 objective is for: it
// must show at q=1 and not at the median.
func TestQuantileSeesTheOutlier(t *testing.T) {
	var h H
	for range 99 {
		h.Record(time.Millisecond)
	}
	h.Record(2 * time.Second)
	if p50 := h.Quantile(0.5); p50 > time.Millisecond+time.Millisecond/128 {
		t.Fatalf("p50 %v", p50)
	}
	if p99 := h.Quantile(0.99); p99 > time.Millisecond+time.Millisecond/128 {
		t.Fatalf("p99 %v: 99 of 100 samples are 1ms", p99)
	}
	if q := h.Quantile(1); q != 2*time.Second {
		t.Fatalf("p100 %v", q)
	}
}

func TestEmptyAndExtremes(t *testing.T) {
	var h H
	if h.Quantile(0.99) != 0 || h.Mean() != 0 || h.Max() != 0 {
		t.Fatal("empty histogram must answer zero")
	}
	h.Record(-time.Second)
	h.Record(time.Duration(math.MaxInt64))
	if h.Quantile(0.5) != 0 || h.Max() != time.Duration(math.MaxInt64) {
		t.Fatalf("p50 %v max %v", h.Quantile(0.5), h.Max())
	}
}

func TestBucketsAreContiguous(t *testing.T) {
	for i := 0; i < buckets-1; i++ {
		if index(upper(i)) != i || index(upper(i)+1) != i+1 {
			t.Fatalf("bucket %d: upper %d maps to %d, next to %d", i, upper(i), index(upper(i)), index(upper(i)+1))
		}
	}
	if index(math.MaxUint64) != buckets-1 {
		t.Fatalf("max maps to %d", index(math.MaxUint64))
	}
}

func TestConcurrentRecordAndMerge(t *testing.T) {
	var a, b H
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				a.Record(time.Duration(w*1000 + i))
			}
		})
	}
	wg.Wait()
	b.Record(time.Hour)
	b.Merge(&a)
	if b.Count() != 4001 || b.Max() != time.Hour {
		t.Fatalf("count %d max %v", b.Count(), b.Max())
	}
	if got := b.Quantile(0.5); got < 2000 || got > 2000+2000/128+1 {
		t.Fatalf("p50 %v", got)
	}
}
