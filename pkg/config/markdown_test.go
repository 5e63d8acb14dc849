package config

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestConfigurationDocIsCurrent fails when docs/configuration.md is not what
// the key registry generates, so the reference cannot go stale.
func TestConfigurationDocIsCurrent(t *testing.T) {
	var want bytes.Buffer
	if err := WriteMarkdown(&want); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatalf("read docs/configuration.md: %v", err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("docs/configuration.md is stale: run\n  go run ./cmd/kinesis-autoscaler docs config > docs/configuration.md")
	}
}

// TestWriteMarkdownHasEveryKey checks the generated table: one row per key,
// naming its default and environment variable.
func TestWriteMarkdownHasEveryKey(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "| `") {
			key := strings.TrimPrefix(line, "| `")
			rows[key[:strings.Index(key, "`")]] = line
		}
	}
	for _, k := range Reference() {
		row, ok := rows[k.Key]
		switch {
		case !ok:
			t.Errorf("no row for key %s", k.Key)
		case k.Default != "" && !strings.Contains(row, "`"+k.Default+"`"):
			t.Errorf("row for %s does not give its default %s: %s", k.Key, k.Default, row)
		case k.Env != "" && !strings.Contains(row, "`"+k.Env+"`"):
			t.Errorf("row for %s does not give its variable %s: %s", k.Key, k.Env, row)
		}
	}
}
