package discover

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// fakeCatalog serves streams and their tags; tagErr fails ListTags per
// stream. It records the streams whose tags were read.
type fakeCatalog struct {
	tags    map[string]map[string]string
	listErr error
	tagErr  map[string]error
	read    []string
}

func (f *fakeCatalog) ListStreamNames(context.Context) ([]string, error) {
	if f.listErr != nil {
		return nil, f.listErr
	}
	var names []string
	for n := range f.tags {
		names = append(names, n)
	}
	return names, nil
}

func (f *fakeCatalog) ListTags(_ context.Context, name string) (map[string]string, error) {
	f.read = append(f.read, name)
	if err := f.tagErr[name]; err != nil {
		return nil, err
	}
	return f.tags[name], nil
}

func names(ss []config.Stream) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

func TestDiscoverMatches(t *testing.T) {
	catalog := &fakeCatalog{tags: map[string]map[string]string{
		"prod-clicks":   {"autoscale": "enabled", "team": "web"},
		"prod-orders":   {"autoscale": "enabled"},
		"prod-audit":    {"autoscale": "disabled"},
		"dev-clicks":    {"autoscale": "enabled"},
		"prod-untagged": {},
	}}
	tests := []struct {
		name      string
		rules     Rules
		want      []string
		wantReads int
	}{
		{name: "by tag", rules: Rules{Tags: map[string]string{"autoscale": "enabled"}},
			want: []string{"dev-clicks", "prod-clicks", "prod-orders"}, wantReads: 5},
		{name: "by every tag", rules: Rules{Tags: map[string]string{"autoscale": "enabled", "team": "web"}},
			want: []string{"prod-clicks"}, wantReads: 5},
		{name: "by prefix; tags are read only for names that match", rules: Rules{NamePrefix: "prod-"},
			want: []string{"prod-audit", "prod-clicks", "prod-orders", "prod-untagged"}, wantReads: 4},
		{name: "by tag and prefix", rules: Rules{NamePrefix: "prod-", Tags: map[string]string{"autoscale": "enabled"}},
			want: []string{"prod-clicks", "prod-orders"}, wantReads: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			catalog.read = nil
			tt.rules.Defaults = config.DefaultStreamSettings()
			got, err := New(catalog, nil).Discover(context.Background(), tt.rules)
			if err != nil || !slices.Equal(names(got), tt.want) {
				t.Fatalf("Discover = %v, %v; want %v", names(got), err, tt.want)
			}
			if len(catalog.read) != tt.wantReads {
				t.Errorf("read the tags of %d streams, want %d", len(catalog.read), tt.wantReads)
			}
		})
	}
}

func TestSettingsFromTagsAndWarningsOnce(t *testing.T) {
	catalog := &fakeCatalog{tags: map[string]map[string]string{
		"clicks": {
			"autoscale":                        "enabled",
			"kinesis-autoscaler:min_shards":    "4",
			"kinesis-autoscaler:max_shards":    "1", // would halve a loaded stream: not trusted
			"kinesis-autoscaler:cooldown_down": "2h",
			"kinesis-autoscaler:last-action":   "up 2 4 2026-11-25T14:00:00Z", // history, not a setting
			"kinesis-autoscaler:calls":         "1795608000",
			"kinesis-autoscaler:shards":        "4",
		},
		"orders": {
			"autoscale":                     "enabled",
			"kinesis-autoscaler:max_shards": "10000", // not trusted
			"kinesis-autoscaler:min_shards": "two",
			"kinesis-autoscaler:scale_up":   "0.8",
		},
	}}
	var warnings []string
	d := New(catalog, func(p *TagProblemError) { warnings = append(warnings, p.Error()) })
	rules := Rules{Tags: map[string]string{"autoscale": "enabled"}, Defaults: config.DefaultStreamSettings()}
	got, err := d.Discover(context.Background(), rules)
	if err != nil {
		t.Fatal(err)
	}
	clicks := config.DefaultStreamSettings()
	clicks.MinShards = 4
	clicks.CooldownDown *= 2
	want := []config.Stream{{Name: "clicks", Settings: clicks}, {Name: "orders", Settings: config.DefaultStreamSettings()}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Discover = %+v\nwant %+v", got, want)
	}
	wantWarnings := []string{
		`ignored tag kinesis-autoscaler:max_shards="1" of stream clicks: 1 is below defaults.max_shards 16: a tag may not lower max_shards`,
		`ignored tag kinesis-autoscaler:max_shards="10000" of stream orders: 10000 is above defaults.max_shards 16`,
		`ignored tag kinesis-autoscaler:min_shards="two" of stream orders: "two" is not a whole number`,
		`ignored tag kinesis-autoscaler:scale_up="0.8" of stream orders: unknown setting`,
	}
	if len(warnings) != len(wantWarnings) {
		t.Fatalf("warnings %q", warnings)
	}
	for i, w := range wantWarnings {
		if !strings.HasPrefix(warnings[i], w) {
			t.Errorf("warning %d = %q, want it to start with %q", i, warnings[i], w)
		}
	}
	// The next discovery does not repeat them.
	if _, err := d.Discover(context.Background(), rules); err != nil || len(warnings) != len(wantWarnings) {
		t.Fatalf("warnings after a second discovery: %q, %v", warnings, err)
	}
}

func TestDiscoverErrors(t *testing.T) {
	catalog := &fakeCatalog{tags: map[string]map[string]string{
		"clicks": {"autoscale": "enabled", "kinesis-autoscaler:min_shards": "3"},
		"orders": {"autoscale": "enabled"},
		"gone":   {"autoscale": "enabled"},
	}}
	rules := Rules{Tags: map[string]string{"autoscale": "enabled"}, Defaults: config.DefaultStreamSettings()}
	d := New(catalog, nil)
	first, err := d.Discover(context.Background(), rules)
	if err != nil || len(first) != 3 {
		t.Fatalf("first discovery: %v, %v", names(first), err)
	}
	// clicks's tags cannot be read for a while: it keeps its last settings.
	// gone was deleted: it leaves quietly. A new stream whose tags cannot be
	// read is left out until they can.
	catalog.tags["new"] = map[string]string{"autoscale": "enabled"}
	denied := errors.New("AccessDeniedException")
	catalog.tagErr = map[string]error{
		"clicks": denied,
		"new":    denied,
		"gone":   fmt.Errorf("list tags: %w", policy.ErrStreamNotFound),
	}
	got, err := d.Discover(context.Background(), rules)
	if !errors.Is(err, denied) {
		t.Fatalf("error %v, want the denied tag reads", err)
	}
	if !slices.Equal(names(got), []string{"clicks", "orders"}) || got[0].Settings.MinShards != 3 {
		t.Fatalf("second discovery: %+v", got)
	}
	catalog.listErr = errors.New("ThrottlingException")
	if _, err := d.Discover(context.Background(), rules); err == nil {
		t.Fatal("listing failure hidden")
	}
}

func TestMergeListedWins(t *testing.T) {
	listed := config.DefaultStreamSettings()
	listed.MaxShards = 64
	got := Merge(
		[]config.Stream{{Name: "orders", Settings: listed}},
		[]config.Stream{{Name: "clicks", Settings: config.DefaultStreamSettings()}, {Name: "orders", Settings: config.DefaultStreamSettings()}},
	)
	if !slices.Equal(names(got), []string{"orders", "clicks"}) || got[0].Settings.MaxShards != 64 {
		t.Fatalf("Merge = %+v", got)
	}
}
