package topic

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestZZSlow(t *testing.T) {
	dir := os.Getenv("CORPUS")
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	type r struct {
		d    time.Duration
		args []string
	}
	var rs []r
	for _, f := range files {
		b, _ := os.ReadFile(f)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")[1:]
		var args []string
		for _, l := range lines {
			l = strings.TrimSuffix(strings.TrimPrefix(l, "string("), ")")
			s, err := strconv.Unquote(l)
			if err != nil {
				t.Logf("bad %s", l)
			}
			args = append(args, s)
		}
		st := time.Now()
		m, err := Compile(args[0], args[1], hubOpt)
		if err == nil {
			m.Match(args[2])
		}
		rs = append(rs, r{time.Since(st), args})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].d > rs[j].d })
	for _, x := range rs[:5] {
		t.Logf("%v %q", x.d, x.args)
	}
}
