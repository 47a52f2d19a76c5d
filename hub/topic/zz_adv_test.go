package topic

import (
	"strings"
	"testing"
	"time"
)

func TestZZAdv(t *testing.T) {
	topic := "https://e.com/" + strings.Repeat("a", 4000)
	pats := map[string]string{
		"literal":   "https://e.com/" + strings.Repeat("a", 4000),
		"opt64":     "https://e.com/" + strings.Repeat("{a}?", 64) + strings.Repeat("b", 3700),
		"groups64":  "https://e.com/" + strings.Repeat("(a*)", 64) + strings.Repeat("b", 3700),
		"wild64":    "https://e.com/" + strings.Repeat("*", 64) + strings.Repeat("b", 3700),
		"wild64b":   "https://e.com/" + strings.Repeat("*a", 64),
		"named64":   "https://e.com/" + strings.Repeat(":a/", 64),
		"regex":     "https://e.com/([a-z]{1,1000}){1,1000}",
		"regex2":    "https://e.com/" + strings.Repeat("([a-z]{1,1000})", 64),
		"tpl64":     strings.Repeat("{a}", 64) + strings.Repeat("b", 3800),
		"tpl64plus": strings.Repeat("{+a*}", 64) + strings.Repeat("b", 3700),
		"tplvars":   "{" + strings.Repeat("a,", 999) + "a}",
		"tplvars2":  strings.Repeat("{"+strings.Repeat("a,", 60)+"a}", 16),
	}
	for name, p := range pats {
		typ := TypeURLPattern
		if strings.HasPrefix(name, "tpl") {
			typ = TypeLegacy
		}
		st := time.Now()
		m, err := Compile(typ, p, hubOpt)
		c := time.Since(st)
		var md time.Duration
		if err == nil {
			st = time.Now()
			m.Match(topic + "x")
			md = time.Since(st)
		}
		t.Logf("%s len=%d compile=%v err=%v match=%v ", name, len(p), c, err, md)
	}
}
