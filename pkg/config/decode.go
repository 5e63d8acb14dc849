package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/viper"
)

// decoder turns what viper merged (defaults, file, environment) into a Config,
// strictly: every value must have its key's type, every key must be known.
// It never panics on the shape of its input; it records a problem instead.
type decoder struct {
	v        *viper.Viper
	problems []Problem
	// failed holds the paths whose value could not be decoded (or, for a
	// stream's key, was inherited from a defaults key that could not be), so
	// that validation does not also complain about the stand-in value.
	failed map[string]bool
}

func newDecoder(v *viper.Viper) *decoder {
	return &decoder{v: v, failed: map[string]bool{}}
}

func (d *decoder) add(key, reason string) {
	d.problems = append(d.problems, Problem{Key: key, Reason: reason})
}

// decode fills cfg, recording a problem for each key it cannot decode.
func (d *decoder) decode(cfg *Config) {
	for _, b := range blocks {
		if val := d.v.Get(b); val != nil && !isMapping(val) {
			d.add(b, "must be a mapping of keys, not "+describe(val))
		}
	}
	for _, k := range keys {
		raw := d.v.Get(k.path)
		if raw == nil {
			// The key's block is null or is not a mapping (reported above).
			raw = k.def
		}
		val, reason := parse(raw, k.kind)
		if reason != "" {
			d.add(k.path, reason)
			d.failed[k.path] = true
			val = k.def
		}
		setValue(k.field(cfg), val)
	}
	d.checkUnknownKeys()
	d.decodeStreams(cfg)
}

// checkUnknownKeys records every key of the file that is not a known key,
// reporting only the outermost unknown key of a nested mapping.
func (d *decoder) checkUnknownKeys() {
	known := map[string]bool{streamsKey: true}
	for _, b := range blocks {
		known[b] = true
	}
	scalar := map[string]bool{}
	for _, k := range keys {
		known[k.path], scalar[k.path] = true, true
	}
	var unknown []string
	for _, path := range d.v.AllKeys() {
		segments := strings.Split(path, ".")
		for i := range segments {
			prefix := strings.Join(segments[:i+1], ".")
			if scalar[prefix] || prefix == streamsKey {
				// A mapping under a value key is that key's type problem;
				// a mapping as streams is the streams key's.
				break
			}
			if !known[prefix] {
				if !slices.Contains(unknown, prefix) {
					unknown = append(unknown, prefix)
				}
				break
			}
		}
	}
	slices.Sort(unknown)
	for _, path := range unknown {
		d.add(displayKey(path), unknownKeyReason(path))
	}
}

// unknownKeyReason says a key is unknown and suggests the known key meant: a
// sibling with a similar name, or else a key of the same name elsewhere.
func unknownKeyReason(path string) string {
	parent, name := "", path
	if i := strings.LastIndex(path, "."); i >= 0 {
		parent, name = path[:i], path[i+1:]
	}
	var siblings []string
	all := append(slices.Clone(blocks), streamsKey)
	for _, k := range keys {
		all = append(all, k.path)
	}
	for _, p := range all {
		rest, ok := strings.CutPrefix(p, parent+".")
		if parent == "" {
			rest, ok = p, true
		}
		if ok {
			siblings = append(siblings, strings.Split(rest, ".")[0])
		}
	}
	if s := closest(name, siblings); s != "" {
		return "unknown key (did you mean " + s + "?)"
	}
	for _, p := range all {
		if strings.HasSuffix(p, "."+name) {
			return "unknown key (did you mean " + p + "?)"
		}
	}
	return "unknown key"
}

// decodeStreams decodes the streams list: each entry starts as a copy of the
// resolved defaults block and the keys it sets override it.
func (d *decoder) decodeStreams(cfg *Config) {
	raw := d.v.Get(streamsKey)
	if raw == nil {
		return
	}
	list, ok := raw.([]any)
	if !ok {
		d.add(streamsKey, "must be a list of streams, not "+describe(raw))
		d.failed[streamsKey] = true
		return
	}
	names := []string{"name"}
	for _, s := range settings {
		names = append(names, s.name)
	}
	for i, entry := range list {
		prefix := fmt.Sprintf("%s[%d]", streamsKey, i)
		stream := Stream{Settings: cfg.Defaults}
		m, ok := asMapping(entry)
		if !ok {
			reason := "must be a mapping with at least a name, not " + describe(entry)
			if s, isString := entry.(string); isString {
				reason += " (write - name: " + strconv.Quote(s) + ")"
			}
			d.add(prefix, reason)
			d.failed[prefix] = true
			cfg.Streams = append(cfg.Streams, stream)
			continue
		}
		set := map[string]bool{}
		for _, k := range sortedKeys(m) {
			path := prefix + "." + k
			val := m[k]
			switch st, isSetting := settingNamed(k); {
			case k == "name":
				name, reason := parse(val, kindString)
				if val != nil && reason != "" {
					d.add(path, reason)
					d.failed[path] = true
				} else if val != nil {
					stream.Name = name.(string)
				}
			case isSetting:
				if val == nil {
					continue // null: keep the defaults' value
				}
				set[k] = true
				parsed, reason := parse(val, st.kind)
				if reason != "" {
					d.add(path, reason)
					d.failed[path] = true
					continue
				}
				setValue(st.field(&stream.Settings), parsed)
			default:
				reason := "unknown key"
				if s := closest(k, names); s != "" {
					reason += " (did you mean " + s + "?)"
				}
				d.add(prefix+"."+displayKey(k), reason)
			}
		}
		for _, st := range settings {
			if !set[st.name] && d.failed["defaults."+st.name] {
				d.failed[prefix+"."+st.name] = true
			}
		}
		cfg.Streams = append(cfg.Streams, stream)
	}
}

func settingNamed(name string) (setting, bool) {
	for _, s := range settings {
		if s.name == name {
			return s, true
		}
	}
	return setting{}, false
}

// parse converts a raw value, from the file, an environment variable or the
// built-in defaults, to the Go type of kind k. On failure it returns a reason
// that starts with the offending value.
func parse(raw any, k kind) (any, string) {
	switch k {
	case kindDuration:
		return parseDuration(raw)
	case kindInt:
		return parseInt(raw)
	case kindFloat:
		return parseFloat(raw)
	case kindBool:
		return parseBool(raw)
	default:
		return parseString(raw)
	}
}

// text returns the text of a value written as text: a string, from a
// quoted YAML scalar or an environment variable, or a plain YAML number,
// which is read by the same rules.
func text(raw any) (string, bool) {
	switch x := raw.(type) {
	case string:
		return x, true
	case yamlNumber:
		return string(x), true
	}
	return "", false
}

// leadingZero matches a whole number written with a leading zero, which
// YAML 1.1 reads as octal (010 is 8).
var leadingZero = regexp.MustCompile(`^[+-]?0[0-9_]`)

func parseDuration(raw any) (any, string) {
	if s, ok := text(raw); ok {
		if d, err := time.ParseDuration(strings.TrimSpace(s)); err == nil {
			return d, ""
		}
	}
	switch x := raw.(type) {
	case time.Duration:
		return x, ""
	case int:
		if x == 0 {
			return time.Duration(0), ""
		}
	}
	return nil, describe(raw) + " is not a duration (use e.g. 60s, 5m)"
}

func parseInt(raw any) (any, string) {
	notWhole := describe(raw) + " is not a whole number"
	outOfRange := describe(raw) + " is out of range"
	if s, ok := text(raw); ok {
		if leadingZero.MatchString(strings.TrimSpace(s)) {
			return nil, describe(raw) + " has a leading zero, which YAML reads as octal: write the number without it"
		}
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 0)
		switch {
		case err == nil:
			return int(n), ""
		case errors.Is(err, strconv.ErrRange):
			return nil, outOfRange
		}
		return nil, notWhole
	}
	if raw == nil {
		return nil, notWhole
	}
	v := reflect.ValueOf(raw)
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(v.Int()), ""
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if v.Uint() > math.MaxInt {
			return nil, outOfRange
		}
		return int(v.Uint()), ""
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if f != math.Trunc(f) || math.IsInf(f, 0) {
			return nil, notWhole
		}
		if f < math.MinInt64 || f >= math.MaxInt64 {
			return nil, outOfRange
		}
		return int(f), ""
	}
	return nil, notWhole
}

func parseFloat(raw any) (any, string) {
	var f float64
	s, isText := text(raw)
	switch {
	case isText:
		parsed, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || strings.Contains(s, "_") {
			return nil, describe(raw) + " is not a number"
		}
		f = parsed
	case raw == nil:
		return nil, describe(raw) + " is not a number"
	default:
		v := reflect.ValueOf(raw)
		switch v.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f = float64(v.Int())
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f = float64(v.Uint())
		case reflect.Float32, reflect.Float64:
			f = v.Float()
		default:
			return nil, describe(raw) + " is not a number"
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, describe(raw) + " is not a number"
	}
	return f, ""
}

func parseBool(raw any) (any, string) {
	if s, ok := text(raw); ok {
		if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
			return b, ""
		}
	}
	if b, ok := raw.(bool); ok {
		return b, ""
	}
	return nil, describe(raw) + " is not true or false"
}

func parseString(raw any) (any, string) {
	if s, ok := raw.(string); ok {
		return s, ""
	}
	reason := describe(raw) + " is not a string"
	if raw != nil && !isMapping(raw) && !isList(raw) {
		reason += " (put it in quotes)"
	}
	return nil, reason
}

// describe writes a raw value for a message: strings quoted (and shortened),
// mappings and lists by what they are.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		const limit = 60
		if utf8.RuneCountInString(x) > limit {
			x = string([]rune(x)[:limit]) + "..."
		}
		return strconv.Quote(x)
	case yamlNumber:
		const limit = 60
		if len(x) > limit {
			return string(x[:limit]) + "..."
		}
		return string(x)
	case time.Duration:
		return formatDuration(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	switch {
	case isMapping(v):
		return "a mapping"
	case isList(v):
		return "a list"
	}
	return fmt.Sprint(v)
}

func isMapping(v any) bool {
	return v != nil && reflect.TypeOf(v).Kind() == reflect.Map
}

func isList(v any) bool {
	if v == nil {
		return false
	}
	kind := reflect.TypeOf(v).Kind()
	return kind == reflect.Slice || kind == reflect.Array
}

// asMapping returns v as a mapping with string keys, if it is a mapping.
func asMapping(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, val := range m {
			out[fmt.Sprint(k)] = val
		}
		return out, true
	}
	return nil, false
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// displayKey quotes a key that is empty or has characters no known key has,
// so that a message shows it exactly and on one line.
func displayKey(k string) string {
	plain := k != ""
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.", r)) {
			plain = false
		}
	}
	if plain {
		return k
	}
	return strconv.Quote(k)
}

// closest returns the candidate most like word, if one is close enough to be
// a likely misspelling of it.
func closest(word string, candidates []string) string {
	best, bestDistance := "", math.MaxInt
	for _, c := range candidates {
		limit := max(1, len(c)/3)
		if len(word) > len(c)+limit || len(word) < len(c)-limit {
			continue // too long or too short to be within the limit
		}
		if d := editDistance(word, c); d < bestDistance && d <= limit {
			best, bestDistance = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b, in
// bytes: the insertions, deletions, substitutions and swaps of neighbours
// that turn one into the other.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
