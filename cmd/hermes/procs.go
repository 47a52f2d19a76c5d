package main

import (
	"log/slog"
	"runtime"
)

// A durable bolt history fsyncs every group commit, twice (bbolt syncs
// the pages, then the meta page). With one Go processor (GOMAXPROCS=1:
// the hub given one core by taskset, a cgroup or a container limit) the
// goroutine inside fdatasync keeps that processor until the runtime's
// monitor takes it back, and when the call returns it waits for a
// processor behind every goroutine that ran meanwhile: a commit takes
// longer than its fsyncs, and publishers wait for it. A second processor
// lets the other goroutines run while one thread waits for the disk, and
// the committing goroutine resumes at once. The core is still one: the
// kernel shares it between the two threads that are runnable.
//
// Measured (README, "What limits durable publishing"): 64 keep-alive publishers, bolt
// with fsync, the hub on one core, four interleaved pairs of runs: 16,900-
// 18,400 publishes/s with one processor, 17,200-19,800 with two (median
// 17,900 and 19,400).
//
// An explicit GOMAXPROCS is the operator's choice and is kept.

// processorsForSync returns how many processors the hub should run with:
// two instead of one when its history is fsynced, else current.
func processorsForSync(spec transportSpec, current int, explicit bool) int {
	if current == 1 && !explicit && spec.kind == "bolt" && !spec.bolt.NoSync {
		return 2
	}
	return current
}

// ensureProcessorsForSync applies processorsForSync to the process.
func (a *app) ensureProcessorsForSync(spec transportSpec, logger *slog.Logger) {
	_, explicit := a.env("GOMAXPROCS")
	current := runtime.GOMAXPROCS(0)
	if n := processorsForSync(spec, current, explicit); n != current {
		runtime.GOMAXPROCS(n)
		logger.Info("one processor: running two, so that a commit's fsync does not stop the hub (set GOMAXPROCS to choose)", "gomaxprocs", n)
	}
}
