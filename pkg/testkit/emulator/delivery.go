package emulator

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// maxReceiveWait is the longest long poll SQS allows in one ReceiveMessage.
const maxReceiveWait = 20 * time.Second

// Delivery is an SNS notification as it arrived in a queue made by SubscribeQueue.
//
// The subscription does not use raw message delivery, so, as with AWS, the SQS body is
// the SNS JSON envelope, and the published Subject and message attributes are in it;
// Delivery holds them decoded. kumo also adds the SQS message attributes MessageId and
// Subject (the latter only when the publish had one), which AWS does not: they are in
// SQSAttributes, and code under test should not rely on them.
type Delivery struct {
	// Body is the SQS message body as received: the SNS JSON envelope.
	Body string
	// Type is the envelope's Type, "Notification".
	Type string
	// MessageID is the SNS message id, the one Publish returned.
	MessageID string
	// TopicArn is the topic the message was published to.
	TopicArn string
	// Subject is the published Subject, "" when there was none.
	Subject string
	// Message is the published Message.
	Message string
	// MessageAttributes are the published message attributes by name. Binary values do
	// not survive: kumo delivers them with an empty Value.
	MessageAttributes map[string]DeliveredAttribute
	// SQSAttributes are the string-valued SQS message attributes by name.
	SQSAttributes map[string]string
}

// DeliveredAttribute is one message attribute in the SNS envelope.
type DeliveredAttribute struct {
	// Type is the attribute's data type: "String", "Number", "String.Array" or "Binary".
	Type string `json:"Type"`
	// Value is the attribute's value as a string.
	Value string `json:"Value"`
}

// snsEnvelope is the JSON body SNS sends to an SQS subscriber without raw delivery.
type snsEnvelope struct {
	Type              string                        `json:"Type"`
	MessageID         string                        `json:"MessageId"`
	TopicArn          string                        `json:"TopicArn"`
	Subject           string                        `json:"Subject"`
	Message           string                        `json:"Message"`
	MessageAttributes map[string]DeliveredAttribute `json:"MessageAttributes"`
}

// SubscribeQueue creates an SQS queue in kumo, subscribes it to the SNS topic without
// raw message delivery, and returns the queue URL. Read deliveries with ReceiveOne.
func (k *Kumo) SubscribeQueue(ctx context.Context, tb testing.TB, topicArn string) string {
	tb.Helper()
	sqsClient := k.SQS()
	created, err := sqsClient.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(UniqueName("sns-delivery"))})
	if err != nil {
		tb.Fatalf("create SQS queue: %v", err)
	}
	queueURL := aws.ToString(created.QueueUrl)
	attrs, err := sqsClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		tb.Fatalf("get ARN of SQS queue %s: %v", queueURL, err)
	}
	queueArn := attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	if queueArn == "" {
		tb.Fatalf("SQS queue %s has no QueueArn attribute", queueURL)
	}
	if _, err := k.SNS().Subscribe(ctx, &sns.SubscribeInput{
		TopicArn:              aws.String(topicArn),
		Protocol:              aws.String("sqs"),
		Endpoint:              aws.String(queueArn),
		ReturnSubscriptionArn: true,
	}); err != nil {
		tb.Fatalf("subscribe SQS queue %s to SNS topic %s: %v", queueArn, topicArn, err)
	}
	return queueURL
}

// ReceiveOne waits up to wait for one message in the queue, deletes it and returns it
// decoded. It long-polls, so it returns as soon as a message arrives, and fails tb when
// none arrives in time or the body is not an SNS envelope.
func (k *Kumo) ReceiveOne(ctx context.Context, tb testing.TB, queueURL string, wait time.Duration) Delivery {
	tb.Helper()
	sqsClient := k.SQS()
	deadline := time.Now().Add(wait)
	for {
		messages := receive(ctx, tb, sqsClient, queueURL, time.Until(deadline))
		if len(messages) > 0 {
			message := messages[0]
			if _, err := sqsClient.DeleteMessage(ctx, &sqs.DeleteMessageInput{
				QueueUrl:      aws.String(queueURL),
				ReceiptHandle: message.ReceiptHandle,
			}); err != nil {
				tb.Fatalf("delete SQS message from %s: %v", queueURL, err)
			}
			return decodeDelivery(tb, message)
		}
		if !time.Now().Before(deadline) {
			tb.Fatalf("no message in SQS queue %s within %s", queueURL, wait)
		}
	}
}

// ReceiveNone fails tb if a message arrives in the queue within wait.
func (k *Kumo) ReceiveNone(ctx context.Context, tb testing.TB, queueURL string, wait time.Duration) {
	tb.Helper()
	sqsClient := k.SQS()
	deadline := time.Now().Add(wait)
	for {
		if messages := receive(ctx, tb, sqsClient, queueURL, time.Until(deadline)); len(messages) > 0 {
			tb.Fatalf("unexpected message in SQS queue %s: %s", queueURL, aws.ToString(messages[0].Body))
		}
		if !time.Now().Before(deadline) {
			return
		}
	}
}

// receive makes one ReceiveMessage call that long-polls for up to wait, rounded up to a
// whole second and capped at the 20 s SQS allows.
func receive(ctx context.Context, tb testing.TB, sqsClient *sqs.Client, queueURL string, wait time.Duration) []sqstypes.Message {
	tb.Helper()
	wait = min(max(wait, 0), maxReceiveWait)
	out, err := sqsClient.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(queueURL),
		MaxNumberOfMessages:         1,
		WaitTimeSeconds:             int32((wait + time.Second - 1) / time.Second),
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
	})
	if err != nil {
		tb.Fatalf("receive from SQS queue %s: %v", queueURL, err)
	}
	return out.Messages
}

// decodeDelivery decodes an SQS message that carries an SNS envelope.
func decodeDelivery(tb testing.TB, message sqstypes.Message) Delivery {
	tb.Helper()
	body := aws.ToString(message.Body)
	var envelope snsEnvelope
	if err := json.Unmarshal([]byte(body), &envelope); err != nil || envelope.Type == "" {
		tb.Fatalf("SQS message is not an SNS envelope (err %v): %s", err, body)
	}
	delivery := Delivery{
		Body:              body,
		Type:              envelope.Type,
		MessageID:         envelope.MessageID,
		TopicArn:          envelope.TopicArn,
		Subject:           envelope.Subject,
		Message:           envelope.Message,
		MessageAttributes: envelope.MessageAttributes,
		SQSAttributes:     map[string]string{},
	}
	if delivery.MessageAttributes == nil {
		delivery.MessageAttributes = map[string]DeliveredAttribute{}
	}
	for name, attr := range message.MessageAttributes {
		if attr.StringValue != nil {
			delivery.SQSAttributes[name] = *attr.StringValue
		}
	}
	return delivery
}
