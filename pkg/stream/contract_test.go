package stream

import "github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"

var (
	_ controller.Streams     = (*Kinesis)(nil)
	_ controller.RecordStore = (*Kinesis)(nil)
)
