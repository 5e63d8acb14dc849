package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/awsclient"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/metrics"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/notify"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/stream"
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
}

func runCommand(stdout, stderr io.Writer) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the autoscaling daemon (or one cycle with --once)",
		Long: `Run the autoscaling daemon: every poll_interval it reads each configured
stream's load from CloudWatch, its state from Kinesis, decides, reshards with
UpdateShardCount where needed and alerts over SNS. The first cycle runs at
start-up. SIGTERM or SIGINT stop it within seconds; a reshard already requested
is left for AWS to finish.

AWS credentials come from the SDK's default chain (ECS task role, instance
profile, environment), never from the config file.`,
		Example: `  kinesis-autoscaler run --config /etc/kinesis-autoscaler/config.yaml
  kinesis-autoscaler run --config config.yaml --once --dry-run --log-format console`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDaemon(cmd.Context(), f, cmd.Flags().Changed("dry-run"), stderr)
		},
	}
	cmd.Flags().StringVar(&f.config, "config", defaultConfigPath, "configuration file (YAML)")
	cmd.Flags().BoolVar(&f.once, "once", false, "run one cycle, then exit (for cron and scheduled tasks); exit status 1 if any stream failed")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "read, decide, log and alert \"would scale\", change nothing (overrides dry_run)")
	cmd.Flags().StringVar(&f.logFormat, "log-format", "", "log encoding: json or console (overrides log.format)")
	cmd.Flags().StringVar(&f.logLevel, "log-level", "", "least severe level logged: debug, info, warn, error (overrides log.level)")
	return cmd
}

func runDaemon(ctx context.Context, f runFlags, dryRunSet bool, stderr io.Writer) error {
	cfg, err := config.Load(f.config)
	if err != nil {
		return badInput(err)
	}
	if dryRunSet {
		cfg.DryRun = f.dryRun
	}
	log, err := newLogger(firstNonEmpty(f.logFormat, cfg.Log.Format), firstNonEmpty(f.logLevel, cfg.Log.Level), stderr)
	if err != nil {
		return badInput(err)
	}
	defer func() { _ = log.Sync() }()

	ctrl, err := newController(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.Info("starting", zap.String("config", cfg.File), zap.Int("streams", len(cfg.Streams)),
		zap.Duration("poll_interval", cfg.PollInterval), zap.Bool("dry_run", cfg.DryRun), zap.Bool("once", f.once))
	if f.once {
		failed := 0
		for _, o := range ctrl.RunCycle(ctx) {
			if o.Err != nil && !errors.Is(o.Err, policy.ErrStreamBusy) {
				failed++
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d streams failed this cycle (see the log)", failed, len(cfg.Streams))
		}
		return nil
	}
	err = ctrl.Run(ctx)
	log.Info("stopped")
	return err
}

// newController wires the AWS adapters into the loop.
func newController(ctx context.Context, cfg *config.Config, log *zap.Logger) (*controller.Controller, error) {
	clients, err := awsclient.Load(ctx, cfg.AWS.Region, awsclient.Endpoints{
		Kinesis: cfg.AWS.Endpoints.Kinesis, CloudWatch: cfg.AWS.Endpoints.CloudWatch, SNS: cfg.AWS.Endpoints.SNS,
	})
	if err != nil {
		return nil, fmt.Errorf("set up AWS clients: %w", err)
	}
	var notifier controller.Notifier = notify.NewLog(log)
	if cfg.Alerts.SNSTopicARN != "" {
		notifier = notify.New(clients.SNS, cfg.Alerts.SNSTopicARN)
	}
	kinesis := stream.New(clients.Kinesis, stream.WithTagWarnings(func(name string, problem error) {
		log.Warn("ignoring malformed state tag", zap.String("stream", name), zap.Error(problem))
	}))
	specs := make([]controller.StreamSpec, len(cfg.Streams))
	for i, s := range cfg.Streams {
		specs[i] = controller.StreamSpec{Name: s.Name, Settings: s.Settings.Policy()}
	}
	return controller.New(specs, controller.Deps{
		Load:     metrics.New(clients.CloudWatch),
		Streams:  kinesis,
		History:  kinesis,
		Notifier: notifier,
		Clock:    wallClock{},
	}, controller.Options{
		PollInterval: cfg.PollInterval,
		DryRun:       cfg.DryRun,
		DedupWindow:  cfg.Alerts.DedupWindow,
	}, log), nil
}

// newLogger builds the zap logger: JSON for CloudWatch Logs by default,
// console for people.
func newLogger(format, level string, w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(firstNonEmpty(level, "info"))
	if err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
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
		return nil, fmt.Errorf("log format %q: want json or console", format)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), lvl)), nil
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
