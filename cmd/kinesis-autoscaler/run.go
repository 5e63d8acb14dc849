package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/awsclient"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
)

// wallClock is the real clock.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

type runFlags struct {
	config    string
	once      bool
	dryRun    bool
	logFormat string
	logLevel  string
	// callObserver, when set, is told of every AWS call (hooks).
	callObserver awsclient.CallObserver
}

func runCommand(stdout, stderr io.Writer, h hooks) *cobra.Command {
	f := runFlags{callObserver: h.callObserver}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the autoscaling daemon (or one cycle with --once)",
		Long: `Run the autoscaling daemon: every poll_interval it reads each configured
stream's load from CloudWatch, its state from Kinesis, decides, reshards with
UpdateShardCount where needed and alerts over SNS. The first cycle runs at
start-up. SIGTERM or SIGINT stop it within seconds; a reshard already requested
is left for AWS to finish, and the lease, if any, is released. SIGHUP reloads
the configuration file: a bad one is rejected with a log line and an alert,
and the configuration in force stays.

With lease.table set, several replicas share a lease in DynamoDB and only its
holder acts; the others read, decide, log and serve metrics. With
discover.tags or discover.name_prefix set, streams are also chosen by tag and
name, listed again every discover.interval. /metrics, /healthz and /readyz are
served on metrics.listen.

AWS credentials come from the SDK's default chain (ECS task role, instance
profile, environment), never from the config file.`,
		Example: `  kinesis-autoscaler run --config /etc/kinesis-autoscaler/config.yaml
  kinesis-autoscaler run --config config.yaml --once --dry-run --log-format console`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDaemon(cmd.Context(), f, cmd.Flags().Changed("dry-run"), stdout, stderr)
		},
	}
	cmd.Flags().StringVar(&f.config, "config", defaultConfigPath, "configuration file (YAML)")
	cmd.Flags().BoolVar(&f.once, "once", false, "run one cycle, print one summary line and exit (for cron and scheduled tasks); exit status 1 when it could not act: a standby, AWS unreachable, or a stream failed")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "read, decide, log and alert \"would scale\", change nothing (overrides dry_run)")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "", "log encoding: json or console (overrides log.format)")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "", "least severe level logged: debug, info, warn, error (overrides log.level)")
	return cmd
}

func runDaemon(ctx context.Context, f runFlags, dryRunSet bool, stdout, stderr io.Writer) error {
	cfg, err := config.Load(f.config)
	if err != nil {
		return badInput(err)
	}
	if dryRunSet {
		cfg.DryRun = f.dryRun
	}
	log, level, err := newLeveledLogger(firstNonEmpty(f.logFormat, cfg.Log.Format), firstNonEmpty(f.logLevel, cfg.Log.Level), stderr)
	if err != nil {
		return badInput(err)
	}
	defer func() { _ = log.Sync() }()

	d, err := newDaemon(ctx, cfg, f, dryRunSet, log, level)
	if err != nil {
		return err
	}
	if f.once {
		return d.once(ctx, stdout)
	}
	// SIGHUP reloads the configuration; signals are handled here alone.
	hupSignals := make(chan os.Signal, 1)
	signal.Notify(hupSignals, syscall.SIGHUP)
	defer signal.Stop(hupSignals)
	hup := make(chan struct{}, 1)
	go func() {
		for range hupSignals {
			select {
			case hup <- struct{}{}:
			default: // a reload is already pending
			}
		}
	}()
	return d.run(ctx, hup)
}

// newLogger builds the zap logger: JSON for CloudWatch Logs by default,
// console for people.
func newLogger(format, level string, w io.Writer) (*zap.Logger, error) {
	log, _, err := newLeveledLogger(format, level, w)
	return log, err
}

// newLeveledLogger is newLogger with the level, which can change while the
// logger runs.
func newLeveledLogger(format, level string, w io.Writer) (*zap.Logger, zap.AtomicLevel, error) {
	lvl, err := zapcore.ParseLevel(firstNonEmpty(level, "info"))
	if err != nil {
		return nil, zap.AtomicLevel{}, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	var enc zapcore.Encoder
	switch firstNonEmpty(format, "json") {
	case "json":
		ec := zap.NewProductionEncoderConfig()
		ec.TimeKey, ec.EncodeTime = "time", zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, zap.AtomicLevel{}, fmt.Errorf("log format %q: want json or console", format)
	}
	atomic := zap.NewAtomicLevelAt(lvl)
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), atomic)), atomic, nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
