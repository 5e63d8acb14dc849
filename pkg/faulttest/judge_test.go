package faulttest

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/faultproxy"
)

// The judge inspects SplitShard and MergeShards calls, not only
// UpdateShardCount (issue 13.2): a split beyond max_shards, a merge below
// min_shards and a second change in one cycle are wrong actions.
func TestJudgeInspectsSplitsAndMerges(t *testing.T) {
	capped := models[2] // max_shards 2
	call := func(op string, status int) faultproxy.Call {
		return faultproxy.Call{UpstreamStatus: status, Request: faultproxy.Request{Operation: op, Stream: "s",
			Body: []byte(fmt.Sprintf(`{"StreamName":%q}`, "s"))}}
	}
	for _, tt := range []struct {
		name   string
		shards int
		calls  []faultproxy.Call
		wrong  int
	}{
		{name: "split below max", shards: 1, calls: []faultproxy.Call{call("SplitShard", http.StatusOK)}},
		{name: "split beyond max", shards: 2, calls: []faultproxy.Call{call("SplitShard", http.StatusOK)}, wrong: 1},
		{name: "merge to min", shards: 2, calls: []faultproxy.Call{call("MergeShards", http.StatusOK)}},
		{name: "merge below min", shards: 1, calls: []faultproxy.Call{call("MergeShards", http.StatusOK)}, wrong: 1},
		{name: "a refused split, then one", shards: 1,
			calls: []faultproxy.Call{call("SplitShard", http.StatusBadRequest), call("SplitShard", http.StatusOK)}},
		{name: "two changes in one cycle", shards: 1,
			calls: []faultproxy.Call{call("SplitShard", http.StatusOK), call("MergeShards", http.StatusOK)}, wrong: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := &simStream{model: capped, name: "s", shards: tt.shards}
			w := &world{t: t, byName: map[string]*simStream{"s": s}, streams: []*simStream{s}}
			counts := map[string]int{"s": tt.shards}
			for _, c := range tt.calls {
				w.judgeShardChange(c, counts)
			}
			if len(w.wrong) != tt.wrong {
				t.Errorf("wrong actions %q, want %d", w.wrong, tt.wrong)
			}
		})
	}
}
