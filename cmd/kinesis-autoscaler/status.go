package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/sim"
)

func statusCommand(stdout, stderr io.Writer, h hooks) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show every managed stream: shards, load, last action, calls left, what the policy would do now",
		Long: `Show every stream the daemon manages, listed and discovered, as a table: capacity
mode and status, open shards, utilisation per dimension (write bytes, write
records, read bytes) of the minute the decision looks at, the last scaling
action and when, the UpdateShardCount calls left in the rolling 24 h, and what
the policy would do now, with its reason. With a lease table, it also says
which replica holds the lease. For streams with shard_level, it lists each open
shard: its share of the hash-key space, its latest minute's load and refused
writes, the hot keys known and what the shard level would do now.

It reads only: it runs the daemon's own cycle as a standby, so it never
reshards, never writes tags and never alerts. Exit status 1 if a stream could
not be read.`,
		Example: "  kinesis-autoscaler status --config /etc/kinesis-autoscaler/config.yaml",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return badInput(err)
			}
			log, err := newLogger("console", "error", stderr)
			if err != nil {
				return err
			}
			return status(cmd.Context(), cfg, log, stdout, h)
		},
	}
	cmd.Flags().StringVar(&path, "config", defaultConfigPath, "configuration file (YAML)")
	return cmd
}

// standby is a Leadership that never leads: status only looks.
type standby struct{}

func (standby) Leading() (uint64, bool) { return 0, false }

// TimeLeft implements controller.Leadership: a standby never acts.
func (standby) TimeLeft(uint64) time.Duration { return 0 }

// status runs one cycle as a standby and prints what it saw.
func status(ctx context.Context, cfg *config.Config, log *zap.Logger, w io.Writer, h hooks) error {
	d, err := newDaemon(ctx, cfg, runFlags{config: cfg.File, callObserver: h.callObserver}, false, log, zap.NewAtomicLevel(), withStatusOnly())
	if err != nil {
		return err
	}
	d.discoverNow(ctx)
	now := time.Now()
	outcomes := d.ctrl.RunCycle(ctx)

	if d.lease != nil {
		st, err := d.lease.Read(ctx)
		switch {
		case err != nil:
			fmt.Fprintf(w, "lease: %s in table %s: cannot read it: %v\n\n", cfg.Lease.Name, cfg.Lease.Table, err)
		case st.Holder == "":
			fmt.Fprintf(w, "lease: %s in table %s: nobody holds it\n\n", cfg.Lease.Name, cfg.Lease.Table)
		case st.Expires.Before(now):
			fmt.Fprintf(w, "lease: %s in table %s: free, %s held it until %s\n\n", cfg.Lease.Name, cfg.Lease.Table, st.Holder, ago(st.Expires, now))
		default:
			fmt.Fprintf(w, "lease: %s in table %s: held by %s until %s\n\n", cfg.Lease.Name, cfg.Lease.Table, st.Holder,
				st.Expires.UTC().Format(time.RFC3339))
		}
	}
	if cfg.DryRun {
		fmt.Fprintln(w, "dry_run is on: the daemon decides but changes nothing.")
		fmt.Fprintln(w)
	}
	failed := writeStatus(w, outcomes, now)
	writeBill(w, d.ctrl, outcomes, now)
	if failed > 0 {
		return fmt.Errorf("%d of %d streams could not be read", failed, len(outcomes))
	}
	return nil
}

// writeStatus prints the table and the reasons; it returns how many streams
// could not be read.
func writeStatus(w io.Writer, outcomes []controller.Outcome, now time.Time) int {
	if len(outcomes) == 0 {
		fmt.Fprintln(w, "no streams: none listed, none discovered")
		return 0
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STREAM\tMODE\tSTATUS\tSHARDS\tWRITE BYTES\tWRITE RECORDS\tREAD BYTES\tLAST ACTION\tWHEN\tCALLS LEFT\tPOLICY NOW")
	failed := 0
	for _, o := range outcomes {
		if !o.Observed {
			failed++
			fmt.Fprintf(tw, "%s\t-\tunreadable\t-\t-\t-\t-\t%s\t%s\t-\t-\n", o.Stream, lastAction(o.History), when(o.History, now))
			continue
		}
		d, u := o.Decision, o.Decision.Utilisation
		util := func(f float64) string {
			if d.Trigger == nil {
				return "-"
			}
			return fmt.Sprintf("%.0f%%", f*100)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", o.Stream, o.State.Mode, o.State.Status, o.State.OpenShards,
			util(u.WriteBytes), util(u.WriteRecords), util(u.ReadBytes),
			lastAction(o.History), when(o.History, now), d.CallsLeft, wouldDo(d, o.Paused))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Why:")
	for _, o := range outcomes {
		why := o.Decision.Reason
		if !o.Observed && o.Err != nil {
			why = "cannot be read: " + o.Err.Error()
		}
		if !o.Paused.IsZero() {
			why = fmt.Sprintf("PAUSED since %s (kinesis-autoscaler resume %s): the daemon changes nothing; %s", ago(o.Paused, now), o.Stream, why)
		}
		fmt.Fprintf(w, "  %s: %s\n", o.Stream, oneLine(why))
	}
	for _, o := range outcomes {
		if o.Shards != nil {
			fmt.Fprintln(w)
			writeShardStatus(w, o.Stream, o.Shards)
		}
	}
	return failed
}

// writeBill prints what reading each stream's metrics costs a month at the
// interval its read plan has now (docs/costs.md), at us-east-1's
// GetMetricData price.
func writeBill(w io.Writer, c *controller.Controller, outcomes []controller.Outcome, now time.Time) {
	price := sim.DefaultPrices.MetricsThousand / 1000
	var total float64
	fmt.Fprintln(w)
	fmt.Fprintln(w, "The daemon's own bill (GetMetricData at $0.01 per 1,000 metrics; docs/costs.md):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  STREAM\tMETRICS/READ\tREAD EVERY\tPER MONTH\tWHY")
	for _, o := range outcomes {
		plan, ok := c.PlanRead(o.Stream, now)
		if !ok {
			continue
		}
		month := float64(sim.HoursPerMonth) * plan.MetricsPerHour * price
		total += month
		fmt.Fprintf(tw, "  %s\t%d\t%s\t$%.2f\t%s\n", o.Stream, plan.Metrics, plan.Interval, month, oneLine(plan.Reason))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "  all streams: $%.2f a month at the intervals above (calm streams are read less often as they stay calm)\n", total)
}

// writeShardStatus prints the shards of a stream with shard-level scaling:
// which shard, its share of the key space, how hot in its latest minute of
// enhanced metrics, and what the shard level would do now.
func writeShardStatus(w io.Writer, stream string, s *controller.ShardOutcome) {
	fmt.Fprintf(w, "Shards of %s (shard-level scaling; %d split and merge calls left in the rolling 24 h):\n", stream, s.CallsLeft)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  SHARD\tKEY SPACE\tHASH-KEY RANGE\tLOAD\tRECORDS/S\tBYTES/S\tTHROTTLED\tMINUTE")
	for _, l := range s.Loads {
		r := fmt.Sprintf("%.6f-%.6f", l.Range.Lo, l.Range.Hi)
		if !l.Known {
			fmt.Fprintf(tw, "  %s\t%.1f%%\t%s\t-\t-\t-\t-\tno data yet\n", l.ShardID, l.Range.Width()*100, r)
			continue
		}
		m := l.Minute
		fmt.Fprintf(tw, "  %s\t%.1f%%\t%s\t%.0f%%\t%.0f\t%.0f\t%.0f\t%s\n", l.ShardID, l.Range.Width()*100, r,
			l.Utilisation()*100, m.IncomingRecords/60, m.IncomingBytes/60, m.WriteThrottled, m.Start.UTC().Format("15:04"))
	}
	_ = tw.Flush()
	for _, h := range s.HotKeys {
		fmt.Fprintf(w, "  hot partition key in %.6f-%.6f: shards there are not split for it\n", h.Lo, h.Hi)
	}
	switch {
	case s.Waiting != "":
		fmt.Fprintf(w, "  shard level now: waiting: %s\n", oneLine(s.Waiting))
	case len(s.Actions) == 0:
		fmt.Fprintln(w, "  shard level now: nothing")
	}
	for _, a := range s.Actions {
		fmt.Fprintf(w, "  shard level now: %s: %s\n", strings.ReplaceAll(string(a.Kind), "_", " "), oneLine(a.Reason))
	}
}

func lastAction(h policy.History) string {
	a := h.LastAction
	if a == nil {
		return "none"
	}
	if a.ByMerges {
		return fmt.Sprintf("%s %d->%d by merges", a.Direction, a.From, a.To)
	}
	return fmt.Sprintf("%s %d->%d", a.Direction, a.From, a.To)
}

func when(h policy.History, now time.Time) string {
	if h.LastAction == nil {
		return "-"
	}
	return ago(h.LastAction.At, now)
}

// ago writes a time as "2026-11-25T14:00:00Z (3h10m ago)".
func ago(t, now time.Time) string {
	d := now.Sub(t).Round(time.Minute)
	rel := "just now"
	if d >= time.Minute {
		rel = strings.TrimSuffix(d.String(), "0s") + " ago"
	}
	return fmt.Sprintf("%s (%s)", t.UTC().Format(time.RFC3339), rel)
}

func wouldDo(d policy.Decision, paused time.Time) string {
	if !paused.IsZero() {
		return "paused"
	}
	if d.Scales() {
		return fmt.Sprintf("scale %s to %d", d.Direction, d.Target)
	}
	return "nothing"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
