package main

import "testing"

func TestProcessorsForSync(t *testing.T) {
	bolt := transportSpec{kind: "bolt"}
	noSync := transportSpec{kind: "bolt"}
	noSync.bolt.NoSync = true
	for _, c := range []struct {
		name     string
		spec     transportSpec
		current  int
		explicit bool
		want     int
	}{
		{"bolt with fsync on one processor gets two", bolt, 1, false, 2},
		{"an explicit GOMAXPROCS=1 is kept", bolt, 1, true, 1},
		{"several processors are kept", bolt, 4, false, 4},
		{"bolt without fsync never waits for the disk", noSync, 1, false, 1},
		{"memory", transportSpec{kind: "memory"}, 1, false, 1},
		{"redis", transportSpec{kind: "redis"}, 1, false, 1},
	} {
		if got := processorsForSync(c.spec, c.current, c.explicit); got != c.want {
			t.Errorf("%s: %d processors, want %d", c.name, got, c.want)
		}
	}
}
