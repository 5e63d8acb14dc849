package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func healthcheckCommand(stdout, stderr io.Writer) *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Ask a running daemon's health endpoint; exit 0 when it answers 200",
		Long: `Ask a running daemon's /healthz (or any URL given) and exit 0 when it answers
200 OK, 1 otherwise. The container image has no shell and no curl: this is the
command of the ECS container health check.`,
		Example: `  kinesis-autoscaler healthcheck
  kinesis-autoscaler healthcheck --url http://127.0.0.1:9090/readyz`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client := &http.Client{Timeout: timeout}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, url, nil)
			if err != nil {
				return badInput(fmt.Errorf("--url %q: %w", url, err))
			}
			resp, err := client.Do(req)
			if err != nil {
				return fmt.Errorf("health check: %w", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if resp.StatusCode != http.StatusOK {
				fmt.Fprint(stderr, string(body))
				return fmt.Errorf("health check: %s answered %s", url, resp.Status)
			}
			fmt.Fprint(stdout, strings.TrimSpace(string(body))+"\n")
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:9090/healthz", "health endpoint to ask")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}
