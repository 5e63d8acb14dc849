package discover

import (
	"context"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

var kinesisMock = emulator.SharedKinesis(emulator.KinesisOptions{})

func TestMain(m *testing.M) {
	os.Exit(emulator.RunTests(m, kinesisMock))
}

// Discovery through the real stream adapter and SDK against kinesis-mock:
// by prefix and tag, with settings from tags and an untrustworthy tag
// ignored.
func TestEmulatorDiscover(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	client := kinesisMock.Get(t).Client()
	k := stream.New(client)
	prefix := emulator.UniqueName("disc") + "-"
	create := func(suffix string, tags map[string]string) string {
		name := prefix + suffix
		if _, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{
			StreamName: aws.String(name), ShardCount: aws.Int32(1),
			StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned},
		}); err != nil {
			t.Fatal(err)
		}
		for {
			st, err := k.Describe(ctx, name)
			if err == nil && st.Status == policy.StatusActive {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("stream %s not ACTIVE", name)
			case <-time.After(50 * time.Millisecond):
			}
		}
		if len(tags) > 0 {
			if _, err := client.AddTagsToStream(ctx, &kinesis.AddTagsToStreamInput{StreamName: aws.String(name), Tags: tags}); err != nil {
				t.Fatal(err)
			}
		}
		return name
	}
	clicks := create("clicks", map[string]string{"autoscale": "enabled", "kinesis-autoscaler:min_shards": "4"})
	orders := create("orders", map[string]string{"autoscale": "enabled", "kinesis-autoscaler:max_shards": "10000"})
	create("audit", map[string]string{"autoscale": "disabled"})
	create("plain", nil)

	var warnings []string
	d := New(k, func(p *TagProblemError) { warnings = append(warnings, p.Error()) })
	got, err := d.Discover(ctx, Rules{NamePrefix: prefix, Tags: map[string]string{"autoscale": "enabled"}, Defaults: config.DefaultStreamSettings()})
	if err != nil {
		t.Fatal(err)
	}
	four := config.DefaultStreamSettings()
	four.MinShards = 4
	want := []config.Stream{{Name: clicks, Settings: four}, {Name: orders, Settings: config.DefaultStreamSettings()}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Discover = %+v\nwant %+v", got, want)
	}
	if len(warnings) != 1 {
		t.Fatalf("warnings = %q, want one for max_shards=10000", warnings)
	}
}
