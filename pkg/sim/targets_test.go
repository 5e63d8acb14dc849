package sim

import "testing"

// checkPolicyTargets holds the default policy to what it must show against
// the known policies on a shared trace (the targets of the policy issue):
//   - it loses no more than the better of ksu and alarm, and nothing where
//     either of them loses nothing;
//   - it throttles at most a quarter of what ksu throttles where ksu throttles
//     more than 1 % of records, elsewhere at most half of ksu's figure or
//     0.5 % of records, whichever is more;
//   - it uses at most 3x the hindsight plan's shard-hours and costs less than
//     a fixed fleet at the peak and than on-demand mode;
//   - it makes at most 10 UpdateShardCount calls in any rolling 24 h and at
//     most 20 SplitShard/MergeShards calls a day.
func checkPolicyTargets(t *testing.T, rs []Result) {
	t.Helper()
	by := map[string]Result{}
	for _, r := range rs {
		by[r.Policy] = r
	}
	d, ksu, alarm, fixed := by[PolicyDefault], by["ksu"], by["alarm"], by["fixed"]
	if d.Policy == "" || ksu.Policy == "" || alarm.Policy == "" || fixed.Policy == "" {
		t.Fatalf("comparison lacks a policy: %v", by)
	}
	offered := float64(d.OfferedRecords)
	if best := min(ksu.LostRecords, alarm.LostRecords); d.LostRecords > best {
		t.Errorf("default lost %d records, more than the better of ksu and alarm (%d)", d.LostRecords, best)
	}
	if (ksu.LostRecords == 0 || alarm.LostRecords == 0) && d.LostRecords != 0 {
		t.Errorf("default lost %d records where a known policy lost none", d.LostRecords)
	}
	limit := float64(ksu.ThrottledRecords) / 4
	if float64(ksu.ThrottledRecords) <= 0.01*offered {
		limit = max(float64(ksu.ThrottledRecords)/2, 0.005*offered)
	}
	if float64(d.ThrottledRecords) > limit {
		t.Errorf("default throttled %d records, over the limit %.0f (ksu %d)", d.ThrottledRecords, limit, ksu.ThrottledRecords)
	}
	if d.XHindsight > 3 {
		t.Errorf("default used %.2fx the hindsight plan's shard-hours, over 3x", d.XHindsight)
	}
	if d.CostUSD >= fixed.CostUSD || d.CostUSD >= d.OnDemandCostUSD {
		t.Errorf("default cost $%.2f, not below fixed $%.2f and on-demand $%.2f", d.CostUSD, fixed.CostUSD, d.OnDemandCostUSD)
	}
	if d.MaxReshardCalls24h > 10 {
		t.Errorf("default made %d UpdateShardCount calls in 24 h", d.MaxReshardCalls24h)
	}
	if days := max(float64(d.Minutes)/1440, 1); float64(d.SplitMergeCalls) > 20*days {
		t.Errorf("default made %d split/merge calls in %.1f days", d.SplitMergeCalls, days)
	}
}
