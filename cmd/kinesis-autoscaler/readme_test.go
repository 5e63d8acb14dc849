package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeMaxLines is the README's budget: one page; reference material lives
// in docs/.
const readmeMaxLines = 250

func readRepoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return string(b)
}

// TestREADMEIsOnePage holds the README to its budget and to the two commands
// it promises at the top.
func TestREADMEIsOnePage(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	if n := strings.Count(readme, "\n"); n > readmeMaxLines {
		t.Errorf("README.md has %d lines, more than %d: move reference material to docs/", n, readmeMaxLines)
	}
	for _, want := range []string{
		"go run ./cmd/kinesis-autoscaler simulate     # 1.",
		"make test                                    # 2.",
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md lacks the line %q of its two commands", want)
		}
	}
}

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
)

// anchor is the GitHub anchor of a Markdown heading.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ' || r == '-':
			b.WriteRune('-')
		case r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestDocLinksResolve checks every relative link of the README and docs/:
// the file exists and, when the link names a heading, the heading does.
func TestDocLinksResolve(t *testing.T) {
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"README.md"}
	for _, d := range docs {
		files = append(files, filepath.Join("docs", filepath.Base(d)))
	}
	for _, want := range []string{"configuration", "operations", "shard-level", "simulation", "benchmarks",
		"reliability", "policy", "alerts", "metrics"} {
		if !strings.Contains(strings.Join(files, " "), "docs/"+want+".md") {
			t.Errorf("docs/%s.md is missing", want)
		}
	}
	for _, file := range files {
		text := readRepoFile(t, file)
		for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, frag, _ := strings.Cut(target, "#")
			rel := file
			if path != "" {
				rel = filepath.Join(filepath.Dir(file), path)
				if _, err := os.Stat(filepath.Join("..", "..", rel)); err != nil {
					t.Errorf("%s links to %s, which does not exist", file, target)
					continue
				}
			}
			if frag == "" || !strings.HasSuffix(rel, ".md") {
				continue
			}
			found := false
			for _, h := range mdHeading.FindAllStringSubmatch(readRepoFile(t, rel), -1) {
				if anchor(h[1]) == frag {
					found = true
				}
			}
			if !found {
				t.Errorf("%s links to %s, but %s has no heading with anchor #%s", file, target, rel, frag)
			}
		}
	}
}
