package lease

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.uber.org/zap/zaptest"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/emulator"
)

// These tests run the real SDK client against kumo's DynamoDB, whose
// conditional writes are what the lease rests on.
var kumo = emulator.SharedKumo()

func TestMain(m *testing.M) {
	os.Exit(emulator.RunTests(m, kumo))
}

// leaseTable creates a lease table in kumo and returns a client and its name.
func leaseTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	k := kumo.Get(t)
	client := dynamodb.NewFromConfig(emulator.AWSConfig(), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(k.Endpoint) })
	table := emulator.UniqueName("lease")
	_, err := client.CreateTable(t.Context(), &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(KeyAttribute), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(KeyAttribute), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
	return client, table
}

func contender(t *testing.T, client *dynamodb.Client, table, holder string, d time.Duration, now func() time.Time) *Lease {
	t.Helper()
	l, err := New(client, Config{Table: table, Name: "autoscaler", Holder: holder, Duration: d},
		WithClock(now), WithLogger(zaptest.NewLogger(t).Named(holder)))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Handover with clocks the test moves: B takes the lease only once A's has
// expired, A's renewal then fails, and A's release hands over at once.
func TestEmulatorHandover(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	client, table := leaseTable(t)
	clock := &fakeClock{now: t0}
	a := contender(t, client, table, "a", 20*time.Second, clock.Now)
	b := contender(t, client, table, "b", 20*time.Second, clock.Now)

	mustAttempt := func(l *Lease) {
		t.Helper()
		if err := l.Attempt(ctx); err != nil {
			t.Fatalf("%s: %v", l.Holder(), err)
		}
	}
	mustAttempt(a)
	mustAttempt(b)
	if _, ok := a.Leading(); !ok || b.Role() != RoleStandby {
		t.Fatalf("a leading %v, b %s", ok, b.Role())
	}
	// A renews at 5 s, then dies. B keeps trying.
	clock.Advance(5 * time.Second)
	mustAttempt(a)
	for _, at := range []time.Duration{10, 15, 20, 25} {
		clock.now = t0.Add(at * time.Second)
		mustAttempt(b)
		_, aLeads := a.Leading()
		if _, ok := b.Leading(); ok {
			t.Fatalf("b took the lease at t0+%ds, before it expired at t0+25s", at)
		}
		if aLeads && at >= 20 {
			t.Fatalf("a still acting at t0+%ds, in the last quarter of its lease", at)
		}
	}
	clock.now = t0.Add(25*time.Second + time.Millisecond)
	mustAttempt(b)
	if _, ok := b.Leading(); !ok {
		t.Fatal("b did not take the expired lease")
	}
	// A comes back: its renewal is refused.
	mustAttempt(a)
	if _, ok := a.Leading(); ok || a.Role() != RoleStandby {
		t.Fatalf("a leads again after b took over (role %s)", a.Role())
	}
	st, err := b.Read(ctx)
	if err != nil || st.Holder != "b" || st.Version != 3 || !st.Expires.Equal(t0.Add(45*time.Second+time.Millisecond)) {
		t.Fatalf("lease item %+v, %v; want holder b, version 3 (a took, a renewed, b took), expiring 20 s after b took it", st, err)
	}

	// B releases on shutdown: A takes over at its next attempt.
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	mustAttempt(a)
	// Its term is the version its taking write made: a took (1), renewed
	// (2), b took (3), released (4), a took (5). Terms grow across replicas.
	if term, ok := a.Leading(); !ok || term != 5 {
		t.Fatalf("a after b's release: term %d leading %v, want term 5", term, ok)
	}
}

// Many replicas try to take a free lease at the same instant, again and
// again: exactly one wins each round.
func TestEmulatorRacingTakesHaveOneWinner(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	client, table := leaseTable(t)
	const replicas, rounds = 6, 40
	round := time.Duration(0)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return t0.Add(round) }
	ls := make([]*Lease, replicas)
	for i := range ls {
		ls[i] = contender(t, client, table, fmt.Sprintf("r%d", i), 20*time.Second, now)
	}
	for r := range rounds {
		mu.Lock()
		round = time.Duration(r) * time.Minute // every round the last lease has expired
		mu.Unlock()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, l := range ls {
			wg.Go(func() {
				<-start
				if err := l.Attempt(ctx); err != nil {
					t.Errorf("%s: %v", l.Holder(), err)
				}
			})
		}
		close(start)
		wg.Wait()
		leaders := 0
		for _, l := range ls {
			if _, ok := l.Leading(); ok {
				leaders++
			}
		}
		if leaders != 1 {
			t.Fatalf("round %d: %d leaders", r, leaders)
		}
		// Everybody forgets: next round the lease is free again by time.
		for _, l := range ls {
			l.mu.Lock()
			l.held = false
			l.mu.Unlock()
		}
	}
}

// partitionable is a DynamoDB client whose writes fail while cut, as a
// replica's do when its network is partitioned or its process stalls.
type partitionable struct {
	*dynamodb.Client
	cut atomic.Bool
}

func (p *partitionable) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if p.cut.Load() {
		return nil, errors.New("partitioned from DynamoDB")
	}
	return p.Client.UpdateItem(ctx, in, opts...)
}

// Three replicas with real 400 ms leases run their renewal loops against
// kumo. Again and again the leader is cut off from DynamoDB while it still
// believes it leads, and the previous one is healed and rejoins the race.
// Sampled all the while, never two replicas lead at once, and a standby
// takes over within about a lease duration.
func TestEmulatorSplitBrainNeverTwoLeaders(t *testing.T) {
	t.Parallel()
	client, table := leaseTable(t)
	const d = 400 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()

	type replica struct {
		l    *Lease
		link *partitionable
	}
	var replicas []*replica
	var wg sync.WaitGroup
	for i := range 3 {
		link := &partitionable{Client: client}
		l, err := New(link, Config{Table: table, Name: "autoscaler", Holder: fmt.Sprintf("r%d", i), Duration: d})
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, &replica{l: l, link: link})
		wg.Go(func() { l.Run(ctx) })
	}
	defer func() { cancel(); wg.Wait() }()

	const handovers = 10
	var (
		samples, overlaps int
		current           *replica
		cutAt, ledSince   time.Time
		stoppedAt         time.Time
		takeovers, gaps   []time.Duration
	)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for len(takeovers) < handovers && ctx.Err() == nil {
		<-tick.C
		var leaders []*replica
		for _, r := range replicas {
			if _, ok := r.l.Leading(); ok {
				leaders = append(leaders, r)
			}
		}
		samples++
		now := time.Now()
		switch {
		case len(leaders) > 1:
			overlaps++
		case len(leaders) == 0 && current != nil && stoppedAt.IsZero():
			stoppedAt = now
		case len(leaders) == 1 && leaders[0] != current:
			if current != nil {
				takeovers = append(takeovers, now.Sub(cutAt))
				gaps = append(gaps, now.Sub(stoppedAt))
				current.link.cut.Store(false) // heal: it rejoins as a standby
			}
			current, ledSince, stoppedAt, cutAt = leaders[0], now, time.Time{}, time.Time{}
		case len(leaders) == 1 && cutAt.IsZero() && now.Sub(ledSince) > d:
			current.link.cut.Store(true)
			cutAt = now
		}
	}
	if overlaps > 0 {
		t.Fatalf("%d of %d samples saw two leaders", overlaps, samples)
	}
	if len(takeovers) < handovers {
		t.Fatalf("only %d handovers before the deadline", len(takeovers))
	}
	for i, took := range takeovers {
		if took > d+d/2+200*time.Millisecond {
			t.Errorf("handover %d: a standby took %s to take over a %s lease", i, took, d)
		}
		if gaps[i] <= 0 {
			t.Errorf("handover %d: no gap between the old leader stopping and the new one starting", i)
		}
	}
	t.Logf("%d samples; takeover after the cut %v; gap with nobody acting %v", samples, takeovers, gaps)
}

// Clocks that differ: the fencing margin of a quarter of the lease covers a
// skew below it, and no more. B's clock runs ahead of A's; A took the lease
// and then stalled. Stepping both clocks together, A stops acting before B's
// clock lets B take the lease — unless the skew exceeds the margin.
func TestEmulatorClockSkew(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	client, table := leaseTable(t)
	const d = 20 * time.Second
	base := t0
	for _, tt := range []struct {
		skew        time.Duration
		wantOverlap bool
	}{
		{skew: 0},
		{skew: time.Second},
		{skew: d/4 - 100*time.Millisecond},
		{skew: d/4 + time.Second, wantOverlap: true},
	} {
		real := base
		a := contender(t, client, table, "a", d, func() time.Time { return real })
		b := contender(t, client, table, fmt.Sprintf("b%s", tt.skew), d, func() time.Time { return real.Add(tt.skew) })
		if err := a.Attempt(ctx); err != nil {
			t.Fatal(err)
		}
		overlap := false
		for step := time.Duration(0); step <= 2*d; step += 100 * time.Millisecond {
			real = base.Add(step)
			if err := b.Attempt(ctx); err != nil {
				t.Fatal(err)
			}
			_, aLeads := a.Leading()
			_, bLeads := b.Leading()
			overlap = overlap || aLeads && bLeads
		}
		if overlap != tt.wantOverlap {
			t.Errorf("skew %s: both led at once: %v, want %v", tt.skew, overlap, tt.wantOverlap)
		}
		if _, ok := b.Leading(); !ok {
			t.Errorf("skew %s: b never took over", tt.skew)
		}
		// Next round starts from a lease that expired long ago.
		base = base.Add(time.Hour)
	}
}

// The DynamoDB behaviour the lease rests on, checked against kumo directly:
// numbers compare as numbers (9 < 10, which as strings it is not), a failed
// condition is a typed ConditionalCheckFailedException and changes nothing,
// if_not_exists with arithmetic counts from the default, and UPDATED_NEW
// returns the new version.
func TestEmulatorConditionalWritesAsAWS(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	client, table := leaseTable(t)
	key := map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: "probe"}}
	write := func(expires, now int64) (*dynamodb.UpdateItemOutput, error) {
		return client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(table), Key: key,
			UpdateExpression:         aws.String("SET #ex = :exp, #vn = if_not_exists(#vn, :zero) + :one"),
			ConditionExpression:      aws.String("attribute_not_exists(#pk) OR #ex < :now"),
			ExpressionAttributeNames: map[string]string{"#pk": KeyAttribute, "#ex": expiresAttribute, "#vn": versionAttribute},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":exp": number(expires), ":now": number(now), ":zero": number(0), ":one": number(1),
			},
			ReturnValues: types.ReturnValueUpdatedNew,
		})
	}
	out, err := write(9, 0) // no item yet
	if err != nil {
		t.Fatalf("first write: %v", err)
	}
	if v, _ := numberAttr(out.Attributes, versionAttribute); v != 1 {
		t.Fatalf("version after the first write = %d, want 1 (%v)", v, out.Attributes)
	}
	if _, err := write(100, 10); err != nil { // 9 < 10 as numbers
		t.Fatalf("9 < 10 refused: numbers compared as strings? %v", err)
	}
	_, err = write(1000, 99) // 100 < 99 is false
	var failed *types.ConditionalCheckFailedException
	if !errors.As(err, &failed) {
		t.Fatalf("failed condition: %v, want ConditionalCheckFailedException", err)
	}
	got, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := numberAttr(got.Item, expiresAttribute)
	v, _ := numberAttr(got.Item, versionAttribute)
	if ex != 100 || v != 2 {
		t.Fatalf("after a refused write the item has expires_at %d version %d, want 100 and 2", ex, v)
	}
}
