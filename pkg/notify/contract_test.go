package notify

import "github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/controller"

var (
	_ controller.Notifier = (*SNS)(nil)
	_ controller.Notifier = (*Log)(nil)
	_ controller.Notifier = Multi(nil)
)
