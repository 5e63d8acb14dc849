package config

import (
	"strconv"
	"strings"
)

// Effective renders the configuration as YAML: every key with the value in
// effect after defaults, file and environment, and for each stream every
// setting as resolved from the defaults block and the stream's own keys.
// Loaded back, the rendering gives the same configuration.
func (c *Config) Effective() string {
	var b strings.Builder
	b.WriteString("# Effective configuration")
	if c.File != "" {
		b.WriteString(" of " + c.File)
	}
	b.WriteString(":\n# built-in defaults, then the file, then " + EnvPrefix + "_* environment variables.\n")
	written := map[string]bool{}
	for _, k := range keys {
		segments := strings.Split(k.path, ".")
		for i := range len(segments) - 1 {
			block := strings.Join(segments[:i+1], ".")
			if !written[block] {
				written[block] = true
				b.WriteString(strings.Repeat("  ", i) + segments[i] + ":\n")
			}
		}
		indent := strings.Repeat("  ", len(segments)-1)
		val := valueAt(k.field(c))
		if s, ok := val.(string); ok && strings.HasPrefix(k.path, "aws.endpoints.") {
			val = redactURL(s)
		}
		b.WriteString(indent + segments[len(segments)-1] + ": " + yamlValue(val) + "\n")
	}
	if len(c.Streams) == 0 {
		b.WriteString(streamsKey + ": []\n")
		return b.String()
	}
	b.WriteString(streamsKey + ":\n")
	for _, s := range c.Streams {
		b.WriteString("  - name: " + yamlValue(s.Name) + "\n")
		for _, st := range settings {
			b.WriteString("    " + st.name + ": " + yamlValue(valueAt(st.field(&s.Settings))) + "\n")
		}
	}
	return b.String()
}

// yamlValue writes a value as a YAML scalar; strings are always quoted.
func yamlValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return formatValue(v)
}
