// Command kinesis-autoscaler keeps AWS Kinesis Data Streams right-sized: it
// reads CloudWatch metrics, reshards streams whose utilisation leaves the
// configured band, and alerts over SNS. Run `kinesis-autoscaler --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/awsclient"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/sim"
)

// defaultConfigPath is where the container image and the systemd unit keep
// the configuration.
const defaultConfigPath = "/etc/kinesis-autoscaler/config.yaml"

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1
	// exitUsage is for bad input: a config mistake, a bad flag, a bad trace.
	exitUsage = 2
)

// usageError marks an error caused by bad input, which exits with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// badInput wraps err so that the command exits with status 2.
func badInput(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err: err}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// noArgs rejects positional arguments as bad input (exit status 2); one that
// looks like a configuration file is answered with the flag that takes it.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if looksLikeConfig(args[0]) && cmd.Flags().Lookup("config") != nil {
		return badInput(fmt.Errorf("%s takes no arguments, got %q: did you mean --config %s?", cmd.CommandPath(), args[0], args[0]))
	}
	return badInput(fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0]))
}

// looksLikeConfig is true for an argument named like a YAML file, or naming
// a file that exists.
func looksLikeConfig(arg string) bool {
	switch strings.ToLower(filepath.Ext(arg)) {
	case ".yaml", ".yml":
		return true
	}
	fi, err := os.Stat(arg)
	return err == nil && fi.Mode().IsRegular()
}

// hooks are the parts of the commands that tests replace; a nil field is
// the real thing.
type hooks struct {
	// callObserver is told of every AWS call a daemon makes, besides its
	// metrics.
	callObserver awsclient.CallObserver
	// historyTrace replaces simulate's read of a stream's history from
	// CloudWatch (cloudWatchHistory).
	historyTrace func(ctx context.Context, configPath, stream string, days int) (sim.Trace, error)
}

// run executes the command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return runWith(args, stdout, stderr, hooks{})
}

// runWith is run with hooks.
func runWith(args []string, stdout, stderr io.Writer, h hooks) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := rootCommand(stdout, stderr, h)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "kinesis-autoscaler: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

func rootCommand(stdout, stderr io.Writer, h hooks) *cobra.Command {
	root := &cobra.Command{
		Use:   "kinesis-autoscaler",
		Short: "Keep AWS Kinesis Data Streams right-sized",
		Long: `kinesis-autoscaler reads each stream's load from CloudWatch, reshards the stream
with UpdateShardCount when its utilisation leaves the configured band, and
alerts over SNS on every action. Run "kinesis-autoscaler simulate" to see what
it would do to a traffic trace, with no AWS account.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && looksLikeConfig(args[0]) {
				return badInput(fmt.Errorf("unknown command %q: did you mean 'kinesis-autoscaler run --config %s'?", args[0], args[0]))
			}
			if len(args) > 0 {
				return badInput(fmt.Errorf("unknown command %q; run 'kinesis-autoscaler --help' for the commands", args[0]))
			}
			return cmd.Help()
		},
	}
	// --version prints what the version command prints.
	root.Version = readBuildVersion().String()
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	// Flag errors are bad input too.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badInput(err) })
	root.AddCommand(
		runCommand(stdout, stderr, h),
		validateCommand(stdout),
		statusCommand(stdout, stderr, h),
		healthcheckCommand(stdout, stderr),
		simulateCommand(stdout, stderr, h),
		versionCommand(stdout),
		docsCommand(stdout),
		pauseCommand(stdout, stderr, h),
		resumeCommand(stdout, stderr, h),
		scaleCommand(stdout, stderr, h),
	)
	return root
}
