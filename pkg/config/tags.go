package config

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits of AWS resource tags.
const (
	maxTagKeyLength   = 128
	maxTagValueLength = 256
)

// tagPair is one KEY=VALUE of discover.tags, with why it is refused ("" when
// it is good).
type tagPair struct {
	key, value, reason string
}

// tagPairs splits "KEY=VALUE[,KEY=VALUE...]" and checks each pair against
// AWS's rules for tags.
func tagPairs(s string) []tagPair {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var out []tagPair
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		key, value, found := strings.Cut(item, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		p := tagPair{key: key, value: value}
		switch {
		case !found || key == "":
			p.reason = describe(strings.TrimSpace(item)) + " is not KEY=VALUE (e.g. autoscale=enabled)"
		case utf8.RuneCountInString(key) > maxTagKeyLength || !tagText(key):
			p.reason = fmt.Sprintf("%s is not a tag key (1 to %d letters, digits, spaces and _ . : / + - @)",
				describe(key), maxTagKeyLength)
		case utf8.RuneCountInString(value) > maxTagValueLength || !tagText(value):
			p.reason = fmt.Sprintf("%s is not a tag value (up to %d letters, digits, spaces and _ . : / = + - @)",
				describe(value), maxTagValueLength)
		case strings.HasPrefix(strings.ToLower(key), "aws:"):
			p.reason = describe(key) + " starts with aws:, which AWS keeps for its own tags"
		case seen[key]:
			p.reason = describe(key) + " is given twice"
		}
		seen[key] = true
		out = append(out, p)
	}
	return out
}

// tagText reports whether s has only characters AWS allows in tags.
func tagText(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(" _.:/=+-@", r)) {
			return false
		}
	}
	return true
}

// WithTagValues returns the settings with the values read from a stream's
// tags applied, keyed by setting name ("min_shards": "4"). Tags are checked
// by the same rules as the configuration file, and more: s, the defaults
// block of the file, is the operator's ceiling, and a tag may only narrow
// inside it. A tag may raise min_shards up to max_shards but not lower it; it
// may not change max_shards at all (lowering it would cap or shrink a loaded
// stream; raising it would go past the file); and every other setting moves
// only the way that makes the daemon no quicker to remove shards, no slower
// to add them and no freer with splits, merges and billed metrics (see
// tagMay). Anyone who may tag a stream can thus make the daemon more
// careful with it, never less. A value that breaks a rule is left out and
// reported as a Problem whose Key is the setting's name; the other values
// still apply.
func (s StreamSettings) WithTagValues(values map[string]string) (StreamSettings, []Problem) {
	out := s
	var problems []Problem
	set := map[string]bool{}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		raw := values[name]
		st, ok := settingNamed(name)
		if !ok {
			problems = append(problems, Problem{Key: name, Reason: "unknown setting"})
			continue
		}
		val, reason := parse(raw, st.kind)
		if reason == "" {
			reason = outOfBounds(val, st.lo, st.hi, st.loOpen)
		}
		if reason == "" {
			reason = beyondFile(st, val, valueAt(st.field(&s)))
		}
		if reason == "" && name == "min_shards" && val.(int) > s.MaxShards {
			reason = fmt.Sprintf("%d is above defaults.max_shards %d, the most a tag may ask for "+
				"(list the stream under streams to give it more)", val.(int), s.MaxShards)
		}
		if reason != "" {
			problems = append(problems, Problem{Key: name, Reason: reason})
			continue
		}
		setValue(st.field(&out), val)
		set[name] = true
	}
	// Settings that must agree with each other: when tags break the rule,
	// every tag involved is left out.
	drop := func(reason string, pair ...string) {
		for _, name := range pair {
			if set[name] {
				problems = append(problems, Problem{Key: name, Reason: reason})
				st, _ := settingNamed(name)
				setValue(st.field(&out), valueAt(st.field(&s)))
			}
		}
	}
	if out.MinShards > out.MaxShards {
		drop(fmt.Sprintf("min_shards %d is greater than max_shards %d", out.MinShards, out.MaxShards),
			"min_shards", "max_shards")
	}
	if gap := roundFloat(out.ScaleUpThreshold - out.ScaleDownThreshold); !(gap > minThresholdGap) {
		drop(fmt.Sprintf("scale_down_threshold %s is not below scale_up_threshold %s minus %s",
			formatValue(out.ScaleDownThreshold), formatValue(out.ScaleUpThreshold), formatValue(minThresholdGap)),
			"scale_up_threshold", "scale_down_threshold")
	}
	return out, problems
}

// beyondFile says why a tag's value val of setting st goes past the
// configuration's value file, or returns "" when it stays inside it.
func beyondFile(st setting, val, file any) string {
	c := compare(val, file)
	if c == 0 {
		return ""
	}
	const list = "; list the stream under streams to set it freely"
	switch st.tagMay {
	case tagRaises:
		if c < 0 {
			return fmt.Sprintf("%s is below defaults.%s %s: a tag may not lower it (tags only narrow what the configuration allows%s)",
				formatValue(val), st.name, formatValue(file), list)
		}
	case tagLowers:
		if c > 0 {
			return fmt.Sprintf("%s is above defaults.%s %s: a tag may not raise it (tags only narrow what the configuration allows%s)",
				formatValue(val), st.name, formatValue(file), list)
		}
	default:
		if st.name == "max_shards" && c < 0 {
			return fmt.Sprintf("%s is below defaults.max_shards %s: a tag may not lower max_shards, which would cap or "+
				"shrink a loaded stream (raise min_shards to narrow the range%s)", formatValue(val), formatValue(file), list)
		}
		if st.name == "max_shards" {
			return fmt.Sprintf("%s is above defaults.max_shards %s, the most a tag may ask for (list the stream under streams to give it more)",
				formatValue(val), formatValue(file))
		}
		return fmt.Sprintf("%s differs from defaults.%s %s: a tag may not change it%s", formatValue(val), st.name, formatValue(file), list)
	}
	return ""
}

// SettingNames are the names of the per-stream settings, in the order they
// are documented.
func SettingNames() []string {
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.name
	}
	return names
}
