package faulttest

import (
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
	emulator.IsolateSDK()
	os.Exit(emulator.RunTests(m, kinesisMock, kumo))
}
