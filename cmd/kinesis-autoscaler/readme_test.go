package main

import (
	"os"
	"strings"
	"testing"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
)

// TestREADMEDocumentsEveryKey keeps the README's configuration table true:
// every key the loader knows has a row that names it and its default.
func TestREADMEDocumentsEveryKey(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("read README: %v", err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "| `") {
			key := strings.TrimPrefix(line, "| `")
			key = key[:strings.Index(key, "`")]
			rows[key] = line
		}
	}
	for _, k := range config.Reference() {
		row, ok := rows[k.Key]
		if !ok {
			t.Errorf("README has no configuration row for key %s", k.Key)
			continue
		}
		if k.Default != "" && !strings.Contains(row, "`"+k.Default+"`") {
			t.Errorf("README row for %s does not give its default %s: %s", k.Key, k.Default, row)
		}
	}
}
