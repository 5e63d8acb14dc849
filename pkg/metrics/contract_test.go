package metrics

import "github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"

var _ controller.LoadReader = (*CloudWatch)(nil)
