package observe

import (
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"
)

// EMFNamespace is the CloudWatch namespace of the daemon's own health
// metrics in embedded metric format.
const EMFNamespace = "KinesisAutoscaler"

// EMFDimension is the dimension of those metrics; its value names the
// deployment (the lease name, which replicas of one deployment share).
const EMFDimension = "Service"

// EMF metric names, as CloudWatch shows them.
const (
	EMFCyclesCompleted = "CyclesCompleted"
	EMFCycleDuration   = "CycleDuration"
	EMFManagedStreams  = "ManagedStreams"
	EMFActions         = "Actions"
	EMFDeferred        = "Deferred"
	EMFStreamErrors    = "StreamErrors"
	EMFMetricsReadFail = "MetricsReadFailed"
	EMFLeader          = "Leader"
)

// emfUnits are the metrics of an EMF line and their units, in the order
// they are written.
var emfUnits = []struct{ name, unit string }{
	{EMFCyclesCompleted, "Count"},
	{EMFCycleDuration, "Seconds"},
	{EMFManagedStreams, "Count"},
	{EMFActions, "Count"},
	{EMFDeferred, "Count"},
	{EMFStreamErrors, "Count"},
	{EMFMetricsReadFail, "Count"},
	{EMFLeader, "Count"},
}

// EMF writes one log line per cycle in CloudWatch's embedded metric format:
// CloudWatch Logs turns it into metrics of EMFNamespace without an API call
// (ECS's awslogs driver delivers it as it is). It is a controller.Observer.
type EMF struct {
	log     *zap.Logger
	service string

	mu       sync.Mutex
	outcomes []controller.Outcome
}

var _ controller.Observer = (*EMF)(nil)

// NewEMF returns an EMF that logs to log, with the dimension EMFDimension
// set to service.
func NewEMF(log *zap.Logger, service string) *EMF {
	return &EMF{log: log, service: service}
}

// ObserveStream implements controller.Observer: it keeps the cycle's
// outcomes for its line.
func (e *EMF) ObserveStream(o controller.Outcome) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.outcomes = append(e.outcomes, controller.Outcome{Result: o.Result, Err: o.Err, Shards: shardResult(o.Shards)})
}

func shardResult(s *controller.ShardOutcome) *controller.ShardOutcome {
	if s == nil {
		return nil
	}
	return &controller.ShardOutcome{Result: s.Result}
}

// ObserveCycle implements controller.Observer: it writes the cycle's line.
func (e *EMF) ObserveCycle(r controller.CycleReport) {
	e.mu.Lock()
	out := e.outcomes
	e.outcomes = nil
	e.mu.Unlock()
	s := controller.Summarise(r, out, false)
	s.Streams = len(r.Streams)
	e.log.Info("health", emfFields(s, e.service, time.Now())...)
}

// emfFields are the fields of an EMF line: the _aws metadata, the
// dimension and one field per metric.
func emfFields(s controller.CycleSummary, service string, now time.Time) []zap.Field {
	values := map[string]float64{
		EMFCyclesCompleted: 1,
		EMFCycleDuration:   s.Took.Seconds(),
		EMFManagedStreams:  float64(s.Streams),
		EMFActions:         float64(s.Actions),
		EMFDeferred:        float64(s.Deferred),
		EMFStreamErrors:    float64(s.Errors),
		EMFMetricsReadFail: boolValue(s.LoadErr != nil),
		EMFLeader:          boolValue(s.Leading),
	}
	fields := []zap.Field{zap.Object("_aws", emfMetadata{at: now}), zap.String(EMFDimension, service)}
	for _, m := range emfUnits {
		fields = append(fields, zap.Float64(m.name, values[m.name]))
	}
	return fields
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// emfMetadata is the _aws object of an EMF line.
type emfMetadata struct{ at time.Time }

// MarshalLogObject implements zapcore.ObjectMarshaler.
func (m emfMetadata) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	enc.AddInt64("Timestamp", m.at.UnixMilli())
	return enc.AddArray("CloudWatchMetrics", zapcore.ArrayMarshalerFunc(func(arr zapcore.ArrayEncoder) error {
		return arr.AppendObject(zapcore.ObjectMarshalerFunc(func(d zapcore.ObjectEncoder) error {
			d.AddString("Namespace", EMFNamespace)
			if err := d.AddArray("Dimensions", zapcore.ArrayMarshalerFunc(func(dims zapcore.ArrayEncoder) error {
				return dims.AppendArray(zapcore.ArrayMarshalerFunc(func(set zapcore.ArrayEncoder) error {
					set.AppendString(EMFDimension)
					return nil
				}))
			})); err != nil {
				return err
			}
			return d.AddArray("Metrics", zapcore.ArrayMarshalerFunc(func(ms zapcore.ArrayEncoder) error {
				var errs []error
				for _, m := range emfUnits {
					errs = append(errs, ms.AppendObject(zapcore.ObjectMarshalerFunc(func(o zapcore.ObjectEncoder) error {
						o.AddString("Name", m.name)
						o.AddString("Unit", m.unit)
						return nil
					})))
				}
				return errors.Join(errs...)
			}))
		}))
	}))
}

// Observers passes each report to every observer in turn.
type Observers []controller.Observer

// ObserveStream implements controller.Observer.
func (os Observers) ObserveStream(o controller.Outcome) {
	for _, ob := range os {
		ob.ObserveStream(o)
	}
}

// ObserveCycle implements controller.Observer.
func (os Observers) ObserveCycle(r controller.CycleReport) {
	for _, ob := range os {
		ob.ObserveCycle(r)
	}
}

var _ controller.Observer = Observers(nil)
