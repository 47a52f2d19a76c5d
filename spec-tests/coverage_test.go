package spectests_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// checklistPrefixes are the section prefixes of the protocol checklist's
// requirement IDs. An ID with another prefix (UTF-8, SHA-256) is not a
// citation.
var checklistPrefixes = []string{
	"ACT", "AD", "API", "AUTH", "AZ", "CORS", "DIS", "ENC", "ERR", "EVT", "IANA", "LEG", "MAT",
	"PAY", "PRIV", "PRM", "PUB", "REC", "SEC", "SSE", "SUB", "TML", "TOP", "TV",
}

var (
	// citedDash is an ID as comments write it: SUB-3.
	citedDash = regexp.MustCompile(`\b([A-Z]{2,5})-([0-9]+)\b`)
	// citedName is an ID as test names carry it: TestSUB3_...
	citedName = regexp.MustCompile(`\bfunc (?:Test|Fuzz|Benchmark)([A-Z]{2,5})([0-9]+)_`)
	// coverageRow is a row of COVERAGE.md's table.
	coverageRow = regexp.MustCompile(`(?m)^\| ([A-Z]+-[0-9]+) \|`)
)

// citedIDs returns every checklist ID cited in the test files under root
// (names and comments alike), with one file citing it.
func citedIDs(t *testing.T, root string) map[string]string {
	t.Helper()
	cited := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == "node_modules" || name == "testdata" || (strings.HasPrefix(name, ".") && path != root) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, re := range []*regexp.Regexp{citedDash, citedName} {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				if slices.Contains(checklistPrefixes, m[1]) {
					if _, seen := cited[m[1]+"-"+m[2]]; !seen {
						cited[m[1]+"-"+m[2]] = rel
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cited
}

// TestCoverageListsEveryCitedID keeps COVERAGE.md complete: every checklist
// ID a test of the module cites has a row saying what it requires.
func TestCoverageListsEveryCitedID(t *testing.T) {
	doc, err := os.ReadFile("COVERAGE.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, m := range coverageRow.FindAllStringSubmatch(string(doc), -1) {
		rows[m[1]] = true
	}
	cited := citedIDs(t, "..")
	if len(cited) < 50 {
		t.Fatalf("found only %d cited IDs: is the walk rooted at the module?", len(cited))
	}
	var missing []string
	for id, file := range cited {
		if !rows[id] {
			missing = append(missing, id+" (cited in "+file+")")
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("COVERAGE.md has no row for %d cited IDs; add one per ID with the requirement and the tests:\n  %s",
			len(missing), strings.Join(missing, "\n  "))
	}
}

// TestCoverageScannerSeesBothForms: the scanner finds an ID in a test name
// and in a comment, and ignores IDs outside the checklist's sections, so
// that the check above cannot pass by finding nothing.
func TestCoverageScannerSeesBothForms(t *testing.T) {
	dir := t.TempDir()
	src := "package x\n\n// Checks SUB-3 over UTF-8 input.\nfunc TestPUB10_X(t *testing.T) {}\n"
	if err := os.WriteFile(filepath.Join(dir, "x_test.go"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	got := citedIDs(t, dir)
	if _, ok := got["SUB-3"]; !ok {
		t.Errorf("comment citation not found: %v", got)
	}
	if _, ok := got["PUB-10"]; !ok {
		t.Errorf("test name citation not found: %v", got)
	}
	if _, ok := got["UTF-8"]; ok || len(got) != 2 {
		t.Errorf("unexpected citations: %v", got)
	}
}
