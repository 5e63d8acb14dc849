package lease

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.uber.org/zap/zaptest"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// fakeDynamo records UpdateItem inputs and answers each with the next of
// its results (the last one repeats). during runs while a call is "in
// flight", e.g. to move the clock.
type fakeDynamo struct {
	inputs  []*dynamodb.UpdateItemInput
	results []result
	during  func()
}

type result struct {
	version int64
	err     error
}

func (f *fakeDynamo) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.inputs = append(f.inputs, in)
	if f.during != nil {
		f.during()
	}
	r := f.results[0]
	if len(f.results) > 1 {
		f.results = f.results[1:]
	}
	if r.err != nil {
		return nil, r.err
	}
	return &dynamodb.UpdateItemOutput{Attributes: map[string]types.AttributeValue{versionAttribute: number(r.version)}}, nil
}

func (f *fakeDynamo) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{}, nil
}

var (
	taken       = &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}
	errTimedOut = errors.New("operation error DynamoDB: UpdateItem, request timeout")
)

func newTestLease(t *testing.T, db *fakeDynamo, clock *fakeClock) *Lease {
	t.Helper()
	l, err := New(db, Config{Table: "leases", Name: "autoscaler", Holder: "a", Duration: 20 * time.Second},
		WithClock(clock.Now), WithLogger(zaptest.NewLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func attempt(t *testing.T, l *Lease) {
	t.Helper()
	if err := l.Attempt(context.Background()); err != nil {
		t.Fatalf("Attempt: %v", err)
	}
}

func TestTakeRenewAndFenceByTime(t *testing.T) {
	clock := &fakeClock{now: t0}
	db := &fakeDynamo{results: []result{{version: 1}, {version: 2}}}
	l := newTestLease(t, db, clock)
	if _, ok := l.Leading(); ok || l.Role() != RoleUnknown {
		t.Fatalf("leading before any attempt (role %s)", l.Role())
	}

	attempt(t, l)
	in := db.inputs[0]
	if got := aws.ToString(in.ConditionExpression); got != "attribute_not_exists(#pk) OR #ex < :now OR #hd = :me" {
		t.Errorf("take condition = %q", got)
	}
	if got := in.ExpressionAttributeValues[":exp"].(*types.AttributeValueMemberN).Value; got != "1795608020000" {
		t.Errorf("expires_at = %s, want t0+20s in ms", got)
	}
	if term, ok := l.Leading(); !ok || term != 1 || l.Role() != RoleLeader {
		t.Fatalf("after taking: term %d leading %v role %s", term, ok, l.Role())
	}

	clock.Advance(5 * time.Second)
	attempt(t, l)
	in = db.inputs[1]
	if got := aws.ToString(in.ConditionExpression); got != "#hd = :me AND #vn = :v" {
		t.Errorf("renew condition = %q", got)
	}
	if got := in.ExpressionAttributeValues[":v"].(*types.AttributeValueMemberN).Value; got != "1" {
		t.Errorf("renew conditioned on version %s, want 1", got)
	}
	if term, ok := l.Leading(); !ok || term != 1 {
		t.Fatalf("after renewing: term %d leading %v, want the same term", term, ok)
	}

	// DynamoDB stops answering. The lease, renewed at t0+5s, runs to
	// t0+25s in the table; this replica stops acting at t0+20s.
	db.results = []result{{err: errTimedOut}}
	for _, at := range []time.Duration{10 * time.Second, 15 * time.Second} {
		clock.now = t0.Add(at)
		if err := l.Attempt(context.Background()); err == nil {
			t.Fatal("Attempt hid the timeout")
		}
		if _, ok := l.Leading(); !ok {
			t.Fatalf("stopped leading at t0+%s, before its time", at)
		}
	}
	clock.now = t0.Add(20*time.Second - time.Millisecond)
	if _, ok := l.Leading(); !ok {
		t.Fatal("stopped leading before three quarters of the lease")
	}
	clock.now = t0.Add(20 * time.Second)
	if _, ok := l.Leading(); ok || l.Role() != RoleUnknown {
		t.Fatalf("still leading in the last quarter of the lease (role %s)", l.Role())
	}
}

func TestLeaseCountsFromTheSendTime(t *testing.T) {
	clock := &fakeClock{now: t0}
	// The answer takes 4 s to come back.
	db := &fakeDynamo{results: []result{{version: 1}}, during: func() { clock.Advance(4 * time.Second) }}
	l := newTestLease(t, db, clock)
	attempt(t, l)
	clock.now = t0.Add(15 * time.Second)
	if _, ok := l.Leading(); ok {
		t.Fatal("a slow answer extended the lease: acting 15 s after a 20 s lease was sent")
	}
}

func TestLostAndRetaken(t *testing.T) {
	clock := &fakeClock{now: t0}
	db := &fakeDynamo{results: []result{{version: 1}, {err: taken}, {err: taken}, {version: 7}}}
	l := newTestLease(t, db, clock)
	attempt(t, l)

	clock.Advance(5 * time.Second)
	attempt(t, l) // renewal refused: another replica holds the lease
	if _, ok := l.Leading(); ok || l.Role() != RoleStandby {
		t.Fatalf("still leading after the renewal was refused (role %s)", l.Role())
	}
	clock.Advance(5 * time.Second)
	attempt(t, l) // take refused
	if got := aws.ToString(db.inputs[2].ConditionExpression); got != "attribute_not_exists(#pk) OR #ex < :now OR #hd = :me" {
		t.Errorf("after losing the lease the replica must take it anew, not renew: %q", got)
	}
	clock.Advance(5 * time.Second)
	attempt(t, l)
	term, ok := l.Leading()
	if !ok || term != 7 {
		t.Fatalf("retaken: term %d leading %v, want term 7, the version the retaking write made", term, ok)
	}
	// The first term's time to act ended with it, though the replica leads
	// again: what it read then is stale.
	if left := l.TimeLeft(1); left != 0 {
		t.Errorf("time left in the lost term 1: %s, want 0", left)
	}
	if left := l.TimeLeft(7); left != 15*time.Second {
		t.Errorf("time left in term 7: %s, want 15 s (three quarters of the lease)", left)
	}
	clock.Advance(5 * time.Second)
	db.results = []result{{version: 8}}
	attempt(t, l)
	if got := db.inputs[4].ExpressionAttributeValues[":v"].(*types.AttributeValueMemberN).Value; got != "7" {
		t.Errorf("renewal conditioned on version %s, want the 7 of the last take", got)
	}
}

func TestRelease(t *testing.T) {
	clock := &fakeClock{now: t0}
	db := &fakeDynamo{results: []result{{version: 3}}}
	l := newTestLease(t, db, clock)
	if err := l.Release(context.Background()); err != nil || len(db.inputs) != 0 {
		t.Fatalf("release without the lease: %v, %d writes", err, len(db.inputs))
	}
	attempt(t, l)
	db.results = []result{{err: errTimedOut}}
	if err := l.Release(context.Background()); err == nil {
		t.Fatal("Release hid the error")
	}
	if _, ok := l.Leading(); ok {
		t.Fatal("leading after Release, though DynamoDB did not answer")
	}
	in := db.inputs[1]
	if aws.ToString(in.UpdateExpression) != "SET #ex = :zero, #vn = #vn + :one" ||
		aws.ToString(in.ConditionExpression) != "#hd = :me AND #vn = :v" {
		t.Errorf("release write: %q if %q", aws.ToString(in.UpdateExpression), aws.ToString(in.ConditionExpression))
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Name: "n", Holder: "h", Duration: time.Second},
		{Table: "t", Holder: "h", Duration: time.Second},
		{Table: "t", Name: "n", Duration: time.Second},
		{Table: "t", Name: "n", Holder: "h"},
	} {
		if _, err := New(&fakeDynamo{}, cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if a, b := NewHolderID(), NewHolderID(); a == b || a == "" {
		t.Errorf("holder ids %q and %q", a, b)
	}
}
