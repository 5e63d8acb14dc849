package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
)

// The control commands: pause and resume a stream (its kinesis-autoscaler:paused
// tag, which every replica honours) and scale it by hand through the
// daemon's write-ahead executor.

func pauseCommand(stdout, stderr io.Writer, h hooks) *cobra.Command {
	return pauseResume(stdout, stderr, h, true)
}

func resumeCommand(stdout, stderr io.Writer, h hooks) *cobra.Command {
	return pauseResume(stdout, stderr, h, false)
}

func pauseResume(stdout, stderr io.Writer, h hooks, pause bool) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "resume STREAM",
		Short: "Let the daemon change a paused stream again",
		Long: `Remove the stream's kinesis-autoscaler:paused tag: every replica's next change
to the stream reads it and goes ahead.`,
		Example: "  kinesis-autoscaler resume clicks --config /etc/kinesis-autoscaler/config.yaml",
	}
	if pause {
		cmd.Use, cmd.Short = "pause STREAM", "Stop the daemon from changing a stream, until resume"
		cmd.Long = `Tag the stream kinesis-autoscaler:paused with the time. Every replica reads the
tag before it changes the stream, and then changes nothing (no reshard, no
split, no merge): it keeps observing it, status shows it paused, and the
first change the daemon would have made alerts once ("paused"). A manual
"kinesis-autoscaler scale" still works on a paused stream.`
		cmd.Example = "  kinesis-autoscaler pause clicks --config /etc/kinesis-autoscaler/config.yaml"
	}
	cmd.Args = func(_ *cobra.Command, args []string) error {
		if len(args) != 1 {
			return badInput(fmt.Errorf("%s takes one stream name, got %d arguments", cmd.Name(), len(args)))
		}
		return nil
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		d, err := controlDaemon(cmd.Context(), path, stderr, h)
		if err != nil {
			return err
		}
		at, verb := time.Now().UTC().Truncate(time.Second), "paused"
		if !pause {
			at, verb = time.Time{}, "resumed"
		}
		if err := d.kinesis.SetPaused(cmd.Context(), args[0], at); err != nil {
			return fmt.Errorf("%s %s: %w", cmd.Name(), args[0], err)
		}
		fmt.Fprintf(stdout, "%s %s\n", verb, args[0])
		return nil
	}
	cmd.Flags().StringVar(&path, "config", defaultConfigPath, "configuration file (YAML)")
	return cmd
}

func scaleCommand(stdout, stderr io.Writer, h hooks) *cobra.Command {
	var path string
	var to int
	cmd := &cobra.Command{
		Use:   "scale STREAM --to N",
		Short: "Reshard a managed stream to N shards by hand, under the daemon's rules",
		Long: `Reshard the stream to N shards with one UpdateShardCount, through the daemon's
own write-ahead executor: the change is recorded in the stream's tags first,
counted against its UpdateShardCount quota, and the daemon keeps its cooldown
from it. It is refused, with the reason and exit status 1, when it would break
a rule: the stream must be managed (listed or discovered), ACTIVE and
PROVISIONED; N within its min_shards and max_shards and within one call's
reach (half to double the open count); a call left in the rolling 24 h, and a
reduction may not spend the calls kept for scale-ups. It works on a paused
stream. It alerts as the daemon does.`,
		Example: "  kinesis-autoscaler scale clicks --to 8 --config /etc/kinesis-autoscaler/config.yaml",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return badInput(fmt.Errorf("scale takes one stream name, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if to < 1 {
				return badInput(errors.New("scale needs --to N, a shard count of 1 or more"))
			}
			d, err := controlDaemon(cmd.Context(), path, stderr, h)
			if err != nil {
				return err
			}
			if err := d.discoverNow(cmd.Context()); err != nil {
				return err
			}
			result, err := d.ctrl.Scale(cmd.Context(), args[0], to)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: resharding to %d shards (%s)\n", args[0], to, result)
			return nil
		},
	}
	cmd.Flags().IntVar(&to, "to", 0, "the shard count to reshard to")
	cmd.Flags().StringVar(&path, "config", defaultConfigPath, "configuration file (YAML)")
	return cmd
}

// controlDaemon wires the daemon of a control command from the
// configuration at path.
func controlDaemon(ctx context.Context, path string, stderr io.Writer, h hooks) (*daemon, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, badInput(err)
	}
	log, err := newLogger("console", "warn", stderr)
	if err != nil {
		return nil, err
	}
	return newDaemon(ctx, cfg, runFlags{config: cfg.File, callObserver: h.callObserver}, false, log, zap.NewAtomicLevel(), withControl())
}
