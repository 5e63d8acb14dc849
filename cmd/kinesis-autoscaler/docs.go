package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
)

// docsCommand prints generated reference documents; "docs config" prints
// docs/configuration.md from the config key registry.
func docsCommand(stdout io.Writer) *cobra.Command {
	docs := &cobra.Command{
		Use:   "docs",
		Short: "Print generated reference documentation",
		Args:  noArgs,
	}
	docs.AddCommand(&cobra.Command{
		Use:   "config",
		Short: "Print the configuration reference (docs/configuration.md) as Markdown",
		Args:  noArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if err := config.WriteMarkdown(stdout); err != nil {
				return fmt.Errorf("docs config: %w", err)
			}
			return nil
		},
	})
	return docs
}
