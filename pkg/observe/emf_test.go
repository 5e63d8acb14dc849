package observe

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
)

// emfLine is the part of an embedded-metric-format line CloudWatch reads.
type emfLine struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
}

// TestEMFLine checks a cycle's line against the format's rules: _aws with a
// millisecond timestamp, the namespace, the dimension set and every metric
// declared, and each dimension and metric a root member of the line.
func TestEMFLine(t *testing.T) {
	var buf bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zapcore.InfoLevel))
	e := NewEMF(log, "prod-autoscaler")
	e.ObserveStream(controller.Outcome{Stream: "a", Result: controller.ResultRequested})
	e.ObserveStream(controller.Outcome{Stream: "b", Err: errors.New("describe: 500")})
	e.ObserveStream(controller.Outcome{Stream: "c", Result: controller.ResultDeferred})
	e.ObserveCycle(controller.CycleReport{Streams: []string{"a", "b", "c"}, Leading: true, Took: 2500 * time.Millisecond})

	var line emfLine
	var root map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not JSON: %v: %s", err, buf.String())
	}
	if err := json.Unmarshal(buf.Bytes(), &root); err != nil {
		t.Fatal(err)
	}
	if age := time.Since(time.UnixMilli(line.AWS.Timestamp)); age < 0 || age > time.Minute {
		t.Errorf("timestamp %d is not now in milliseconds", line.AWS.Timestamp)
	}
	if len(line.AWS.CloudWatchMetrics) != 1 {
		t.Fatalf("%d metric directives", len(line.AWS.CloudWatchMetrics))
	}
	d := line.AWS.CloudWatchMetrics[0]
	if d.Namespace != EMFNamespace || len(d.Dimensions) != 1 || len(d.Dimensions[0]) != 1 || d.Dimensions[0][0] != EMFDimension {
		t.Errorf("directive %+v", d)
	}
	if root[EMFDimension] != "prod-autoscaler" {
		t.Errorf("dimension %s = %v", EMFDimension, root[EMFDimension])
	}
	want := map[string]float64{
		EMFCyclesCompleted: 1, EMFCycleDuration: 2.5, EMFManagedStreams: 3, EMFActions: 1,
		EMFDeferred: 1, EMFStreamErrors: 1, EMFMetricsReadFail: 0, EMFLeader: 1,
	}
	if len(d.Metrics) != len(want) {
		t.Errorf("%d metrics declared, want %d", len(d.Metrics), len(want))
	}
	for _, m := range d.Metrics {
		if m.Unit == "" {
			t.Errorf("metric %s has no unit", m.Name)
		}
		if got, ok := root[m.Name].(float64); !ok || got != want[m.Name] {
			t.Errorf("%s = %v, want %v", m.Name, root[m.Name], want[m.Name])
		}
	}
	// The next cycle starts its counts afresh.
	buf.Reset()
	e.ObserveCycle(controller.CycleReport{Streams: []string{"a"}})
	if err := json.Unmarshal(buf.Bytes(), &root); err != nil {
		t.Fatal(err)
	}
	if root[EMFActions] != 0.0 || root[EMFLeader] != 0.0 {
		t.Errorf("second cycle: actions %v, leader %v; want 0 and 0", root[EMFActions], root[EMFLeader])
	}
}
