package notify

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// kumo serves SNS and the SQS queue the alerts are delivered to.
var kumo = emulator.SharedKumo()

func TestMain(m *testing.M) {
	os.Exit(emulator.RunTests(m, kumo))
}

func TestEmulatorPublish(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	k := kumo.Get(t)
	client := k.SNS()
	topic, err := client.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(emulator.UniqueName("alerts"))})
	if err != nil {
		t.Fatal(err)
	}
	queue := k.SubscribeQueue(ctx, t, aws.ToString(topic.TopicArn))

	tests := []struct {
		name  string
		alert policy.Alert
	}{
		{name: "scaled up", alert: alerts()[0].alert},
		{name: "dry run", alert: alerts()[2].alert},
		{name: "AWS error for all streams", alert: alerts()[7].alert},
	}
	n := New(client, aws.ToString(topic.TopicArn))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := n.Notify(ctx, tt.alert); err != nil {
				t.Fatal(err)
			}
			got := k.ReceiveOne(ctx, t, queue, 10*time.Second)
			if got.Subject != Subject(tt.alert) || got.Message != Body(tt.alert) {
				t.Errorf("delivered subject %q, message:\n%s", got.Subject, got.Message)
			}
			for name, want := range map[string]string{"event": string(tt.alert.Kind), "stream": tt.alert.Stream} {
				if a := got.MessageAttributes[name]; a.Type != "String" || a.Value != want {
					t.Errorf("attribute %s = %+v, want String %q", name, a, want)
				}
			}
		})
	}
}
