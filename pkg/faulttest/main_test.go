package faulttest

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// One kinesis-mock and one kumo for the test binary. Reshards take 50 ms of
// real time, and the test waits for them between simulated cycles, so that a
// reshard looks instantaneous on the minute scale of the simulated clock.
var (
	kinesisMock = emulator.SharedKinesis(emulator.KinesisOptions{
		CreateStreamDuration:     50 * time.Millisecond,
		UpdateShardCountDuration: 50 * time.Millisecond,
		ShardLimit:               100_000,
	})
	kumo = emulator.SharedKumo()
)

func TestMain(m *testing.M) {
	// The SDK must never find real credentials or reach AWS from tests.
	os.Setenv("AWS_ACCESS_KEY_ID", "test")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Setenv("AWS_CONFIG_FILE", os.DevNull)
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	code := m.Run()
	for _, stop := range []func() error{kinesisMock.Stop, kumo.Stop} {
		if err := stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop emulator: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
