package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of CPU times in /proc/PID/stat. It is 100
// on every Linux architecture Go supports (the kernel fixes it for the ABI).
const clockTicks = 100

// procSample is the hub process's memory and CPU at one time.
type procSample struct {
	RSS  int64         // bytes resident (VmRSS)
	HWM  int64         // peak resident (VmHWM)
	CPU  time.Duration // user + system time of all its threads
	Time time.Time
}

// readProc reads /proc/PID/status and /proc/PID/stat (Linux).
func readProc(pid int) (procSample, error) {
	s := procSample{Time: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("reading the hub's memory: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "kB")), 10, 64)
		if err != nil {
			return s, fmt.Errorf("parsing %s in /proc/%d/status: %w", name, pid, err)
		}
		if name == "VmRSS" {
			s.RSS = kb << 10
		} else {
			s.HWM = kb << 10
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("reading the hub's CPU time: %w", err)
	}
	// The command name (field 2) may contain spaces and parentheses: the
	// fields that follow start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return s, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("unexpected CPU times in /proc/%d/stat", pid)
	}
	s.CPU = time.Duration(ut+st) * time.Second / clockTicks
	return s, nil
}

// procDelta is what the hub spent between two samples.
type procDelta struct {
	RSSBefore int64   `json:"rss_before_bytes"`
	RSSAfter  int64   `json:"rss_after_bytes"`
	PeakRSS   int64   `json:"peak_rss_bytes"`
	CPU       float64 `json:"cpu_seconds"`
	// CPUPercent is CPU time over wall time: 100 is one core busy.
	CPUPercent float64 `json:"cpu_percent"`
}

// sampler takes samples of the hub process when a PID was given.
type sampler struct{ pid int }

func (s sampler) sample() *procSample {
	if s.pid <= 0 {
		return nil
	}
	p, err := readProc(s.pid)
	if err != nil {
		return nil
	}
	return &p
}

func delta(a, b *procSample) *procDelta {
	if a == nil || b == nil {
		return nil
	}
	d := &procDelta{RSSBefore: a.RSS, RSSAfter: b.RSS, PeakRSS: b.HWM, CPU: (b.CPU - a.CPU).Seconds()}
	if wall := b.Time.Sub(a.Time).Seconds(); wall > 0 {
		d.CPUPercent = 100 * d.CPU / wall
	}
	return d
}
