package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
)

func validateCommand(stdout io.Writer) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a configuration file and print the effective settings",
		Long: `Check a configuration file: every mistake is reported with the file, the key
and what is wrong, all at once, and the command exits with status 2. A good
file prints the effective settings of every stream (defaults applied,
KINESIS_AUTOSCALER_* environment overrides included) and exits 0.`,
		Example: "  kinesis-autoscaler validate --config config/example.yaml",
		Args:    noArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return badInput(err)
			}
			fmt.Fprintf(stdout, "# %s is valid.\n%s", cfg.File, cfg.Effective())
			return nil
		},
	}
	cmd.Flags().StringVar(&path, "config", defaultConfigPath, "configuration file (YAML)")
	return cmd
}
