package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

// alertKinds finds every alert kind the code declares: the string constants
// of type AlertKind in any package.
func alertKinds(t *testing.T) []string {
	t.Helper()
	var kinds []string
	fset := token.NewFileSet()
	err := filepath.WalkDir("../../pkg", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				if vs.Type == nil || !strings.HasSuffix(types.ExprString(vs.Type), "AlertKind") {
					continue
				}
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						kinds = append(kinds, strings.Trim(lit.Value, `"`))
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return kinds
}

// TestEveryAlertKindIsDocumented holds docs/alerts.md and the README's alert
// table to the kinds the code sends.
func TestEveryAlertKindIsDocumented(t *testing.T) {
	kinds := alertKinds(t)
	if len(kinds) < 15 {
		t.Fatalf("found %d alert kinds: is the search still right?", len(kinds))
	}
	tableRows := func(text string) string {
		var rows []string
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, "| `") {
				rows = append(rows, line)
			}
		}
		return strings.Join(rows, "\n")
	}
	for _, file := range []string{"README.md", "docs/alerts.md"} {
		rows := tableRows(readRepoFile(t, file))
		for _, k := range kinds {
			if !strings.Contains(rows, "`"+k+"`") {
				t.Errorf("%s has no table row naming the alert kind %s", file, k)
			}
		}
	}
}

// TestBenchmarksBuiltinFigures keeps the figures docs/benchmarks.md gives
// for the built-in trace true: each policy's row is what the command it
// names prints now.
func TestBenchmarksBuiltinFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the simulation")
	}
	doc := readRepoFile(t, "docs/benchmarks.md")
	const command = "`go run ./cmd/kinesis-autoscaler simulate` (the built-in trace, peak 8 shards):"
	_, rest, ok := strings.Cut(doc, command)
	if !ok {
		t.Fatalf("docs/benchmarks.md no longer gives the built-in trace's figures under %s", command)
	}
	_, block, _ := strings.Cut(rest, "```\n")
	block, _, _ = strings.Cut(block, "```")
	code, stdout, stderr := runCLI(t, "simulate")
	if code != 0 {
		t.Fatalf("simulate exit %d: %s", code, stderr)
	}
	rows := 0
	for _, line := range strings.Split(block, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !slices.Contains([]string{"default", "shard", "ksu", "alarm", "fixed"}, f[0]) {
			continue
		}
		rows++
		if !strings.Contains(stdout, strings.TrimSpace(line)) {
			t.Errorf("docs/benchmarks.md says\n  %s\nbut simulate prints:\n%s", strings.TrimSpace(line), stdout)
		}
	}
	if rows != 5 {
		t.Errorf("%d policy rows in the built-in trace's figures, want 5", rows)
	}
}
