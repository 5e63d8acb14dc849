package main

import (
	"io"

	"github.com/spf13/cobra"
)

// simulateCommand is a placeholder until the simulator lands.
func simulateCommand(stdout, stderr io.Writer) *cobra.Command {
	return &cobra.Command{Use: "simulate", Short: "Replay a traffic trace through the controller"}
}
