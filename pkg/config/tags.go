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
// tags applied, keyed by setting name ("max_shards": "32"). Tags are checked
// by the same rules as the configuration file, and more: min_shards and
// max_shards may not exceed s.MaxShards, the defaults block's max_shards, so
// that a tag cannot make the daemon scale a stream beyond what the
// configuration allows. A value that breaks a rule is left out and reported
// as a Problem whose Key is the setting's name; the other values still apply.
func (s StreamSettings) WithTagValues(values map[string]string) (StreamSettings, []Problem) {
	out := s
	var problems []Problem
	set := map[string]bool{}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	ceiling := s.MaxShards
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
		if n, isInt := val.(int); reason == "" && isInt && (name == "min_shards" || name == "max_shards") && n > ceiling {
			reason = fmt.Sprintf("%d is above defaults.max_shards %d, the most a tag may ask for "+
				"(list the stream under streams to give it more)", n, ceiling)
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

// SettingNames are the names of the per-stream settings, in the order they
// are documented.
func SettingNames() []string {
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.name
	}
	return names
}
