// Package discover chooses the streams to autoscale besides those the
// configuration lists: every stream of the account that carries the
// configured tags and starts with the configured name prefix. A discovered
// stream takes the configuration's defaults block, overridden by settings in
// its own tags (kinesis-autoscaler:min_shards=4), which are checked by the
// configuration's rules and may only narrow what the defaults block allows
// (config.StreamSettings.WithTagValues); a tag that breaks them is ignored
// with a warning.
// The streams the configuration lists win over discovery.
package discover

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
)

// Catalog lists the account's streams and their tags; *stream.Kinesis
// implements it.
type Catalog interface {
	ListStreamNames(ctx context.Context) ([]string, error)
	ListTags(ctx context.Context, stream string) (map[string]string, error)
}

var _ Catalog = (*stream.Kinesis)(nil)

// Rules say which streams are discovered and with which settings.
type Rules struct {
	// Tags must all be on a stream, with these values; none means any.
	Tags map[string]string
	// NamePrefix must start the stream's name; empty means any.
	NamePrefix string
	// Defaults are the settings of a discovered stream before its tags.
	Defaults config.StreamSettings
}

// RulesOf returns the discovery rules of a configuration.
func RulesOf(cfg *config.Config) Rules {
	return Rules{Tags: cfg.Discover.TagFilter(), NamePrefix: cfg.Discover.NamePrefix, Defaults: cfg.Defaults}
}

// SettingTagPrefix starts the tags that set a discovered stream's settings:
// SettingTagPrefix + "min_shards" = "4". It is the prefix of the daemon's
// history tags too, which are not settings.
const SettingTagPrefix = stream.TagPrefix

// TagProblemError describes a setting tag that was ignored.
type TagProblemError struct {
	Stream, Key, Value string
	Reason             string
}

// Error implements error.
func (e *TagProblemError) Error() string {
	return fmt.Sprintf("ignored tag %s=%q of stream %s: %s", e.Key, e.Value, e.Stream, e.Reason)
}

// Discoverer finds the streams that match the rules. It remembers what it
// found, so that a stream whose tags cannot be read for a while keeps its
// last settings rather than drop out, and which tag problems it has already
// reported, so that each is reported once.
type Discoverer struct {
	catalog Catalog
	warn    func(problem *TagProblemError)

	mu     sync.Mutex
	last   map[string]config.Stream
	warned map[string]bool
}

// New returns a Discoverer over the catalog; warn, if not nil, is told of
// each ignored tag once.
func New(catalog Catalog, warn func(problem *TagProblemError)) *Discoverer {
	if warn == nil {
		warn = func(*TagProblemError) {}
	}
	return &Discoverer{catalog: catalog, warn: warn, last: map[string]config.Stream{}, warned: map[string]bool{}}
}

// Discover returns the streams that match the rules, sorted by name, each
// with its settings. Listing the streams must succeed; a stream whose tags
// cannot be read keeps what the previous discovery found for it (or is left
// out, if it is new), and the error is returned with the streams, joined
// with any others. A stream deleted meanwhile is left out silently.
func (d *Discoverer) Discover(ctx context.Context, rules Rules) ([]config.Stream, error) {
	names, err := d.catalog.ListStreamNames(ctx)
	if err != nil {
		return nil, fmt.Errorf("discover streams: %w", err)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	d.mu.Lock()
	defer d.mu.Unlock()
	found := map[string]config.Stream{}
	var errs []error
	for _, name := range names {
		if !strings.HasPrefix(name, rules.NamePrefix) {
			continue
		}
		tags, err := d.catalog.ListTags(ctx, name)
		switch {
		case errors.Is(err, policy.ErrStreamNotFound):
			continue
		case err != nil:
			if ctx.Err() != nil {
				return nil, fmt.Errorf("discover streams: %w", ctx.Err())
			}
			errs = append(errs, err)
			if prev, ok := d.last[name]; ok {
				found[name] = prev
			}
			continue
		}
		if !matches(tags, rules.Tags) {
			continue
		}
		found[name] = config.Stream{Name: name, Settings: d.settings(name, tags, rules.Defaults)}
	}
	d.last = found
	out := make([]config.Stream, 0, len(found))
	for _, name := range slices.Sorted(maps.Keys(found)) {
		out = append(out, found[name])
	}
	return out, errors.Join(errs...)
}

// matches reports whether tags has every key of want with its value.
func matches(tags, want map[string]string) bool {
	for k, v := range want {
		if got, ok := tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// settings applies the stream's setting tags to the defaults and reports
// each ignored tag once.
func (d *Discoverer) settings(name string, tags map[string]string, defaults config.StreamSettings) config.StreamSettings {
	values := map[string]string{}
	keyOf := map[string]string{}
	for k, v := range tags {
		setting, ok := strings.CutPrefix(k, SettingTagPrefix)
		if !ok || stream.IsStateTag(k) {
			continue
		}
		values[setting], keyOf[setting] = v, k
	}
	s, problems := defaults.WithTagValues(values)
	for _, p := range problems {
		e := &TagProblemError{Stream: name, Key: keyOf[p.Key], Value: values[p.Key], Reason: p.Reason}
		id := e.Stream + "\x00" + e.Key + "\x00" + e.Value + "\x00" + e.Reason
		if !d.warned[id] {
			d.warned[id] = true
			d.warn(e)
		}
	}
	return s
}

// Merge returns the listed streams followed by the discovered streams that
// are not listed: the configuration wins over discovery.
func Merge(listed, discovered []config.Stream) []config.Stream {
	out := slices.Clone(listed)
	seen := map[string]bool{}
	for _, s := range listed {
		seen[s.Name] = true
	}
	for _, s := range discovered {
		if !seen[s.Name] {
			out = append(out, s)
		}
	}
	return out
}
