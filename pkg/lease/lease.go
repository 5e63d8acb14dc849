// Package lease lets exactly one of several replicas of the daemon act: the
// holder of a lease kept as one item in a DynamoDB table, taken and renewed
// with conditional writes.
//
// The item is {lease_name, holder, expires_at, version}: lease_name is the
// table's partition key (a string), holder the replica's id, expires_at the
// end of the lease in Unix milliseconds by the holder's clock, and version a
// counter every write increments. A replica takes the lease when there is no
// item, when the item has expired by its own clock, or when it already holds
// it; it renews the lease only while the item still names it and carries the
// version it last wrote.
//
// Fencing is by time and by term. A holder counts its lease from the moment
// it sent the write that took or renewed it and stops acting a quarter of
// the duration before the end, so that it has stopped before any other
// replica's clock sees the lease expire, as long as the replicas' clocks
// differ by less than that quarter (Amazon Time Sync keeps EC2 and Fargate
// clocks within a millisecond). Each tenure has a term, the item's version
// its acquisition wrote: distinct across replicas and larger for later
// tenures, so that a replica that lost the lease and took it back knows its
// earlier reads are stale, and the records it writes say which tenure wrote
// them. Renewal runs every quarter of the duration: a holder that dies or
// loses DynamoDB is replaced within one duration.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.uber.org/zap"
)

// Attribute names of the lease item.
const (
	// KeyAttribute is the table's partition key, a string: the lease's name.
	KeyAttribute     = "lease_name"
	holderAttribute  = "holder"
	expiresAttribute = "expires_at"
	versionAttribute = "version"
)

// dynamoAPI is the part of the DynamoDB client this package uses.
type dynamoAPI interface {
	UpdateItem(ctx context.Context, params *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

var _ dynamoAPI = (*dynamodb.Client)(nil)

// Role is what a replica is, as far as it knows.
type Role string

// Roles of a replica.
const (
	// RoleLeader holds the lease with time left to act.
	RoleLeader Role = "leader"
	// RoleStandby saw another replica hold the lease.
	RoleStandby Role = "standby"
	// RoleUnknown could not reach the lease table at its last attempt and
	// does not hold the lease.
	RoleUnknown Role = "unknown"
)

// Config is a lease's table, name and duration, and this replica's id.
type Config struct {
	Table string
	Name  string
	// Holder is this replica's id; NewHolderID makes one.
	Holder string
	// Duration is how long the lease lasts unless renewed.
	Duration time.Duration
}

// Lease is one replica's side of a lease. Its methods are safe for
// concurrent use: Run renews it in its own goroutine while the controller
// asks Leading.
type Lease struct {
	client dynamoAPI
	cfg    Config
	now    func() time.Time
	log    *zap.Logger

	mu sync.Mutex
	// held: the last write said this replica holds the lease, with version.
	held    bool
	version int64
	// actUntil is when this replica stops acting: the send time of the last
	// successful write, plus three quarters of the duration.
	actUntil time.Time
	// term is the item's version written by the acquisition that began
	// this replica's tenure: every write increments the version, so terms
	// of all replicas are distinct and later terms are larger (a fencing
	// token the stream's record carries).
	term uint64
	// reached: the last attempt got an answer from DynamoDB.
	reached bool
}

// Option configures a Lease.
type Option func(*Lease)

// WithClock sets the clock; the default is time.Now.
func WithClock(now func() time.Time) Option { return func(l *Lease) { l.now = now } }

// WithLogger sets the logger of lease changes; the default logs nothing.
func WithLogger(log *zap.Logger) Option { return func(l *Lease) { l.log = log } }

// New returns this replica's side of the lease in cfg; nothing is written
// until Attempt or Run.
func New(client dynamoAPI, cfg Config, opts ...Option) (*Lease, error) {
	switch {
	case cfg.Table == "" || cfg.Name == "" || cfg.Holder == "":
		return nil, errors.New("lease needs a table, a name and a holder id")
	case cfg.Duration < 4*time.Millisecond:
		return nil, fmt.Errorf("lease duration %s is too short", cfg.Duration)
	}
	l := &Lease{client: client, cfg: cfg, now: time.Now, log: zap.NewNop()}
	for _, o := range opts {
		o(l)
	}
	return l, nil
}

// NewHolderID returns an id for this replica: the host name and a random
// suffix, so that a restarted process is a new holder.
func NewHolderID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "replica"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// RenewInterval is how often Run renews the lease, or tries to take it.
func (l *Lease) RenewInterval() time.Duration { return l.cfg.Duration / 4 }

// Holder returns this replica's id.
func (l *Lease) Holder() string { return l.cfg.Holder }

// Leading reports whether this replica holds the lease with time left to
// act, and the term: it implements controller.Leadership.
func (l *Lease) Leading() (uint64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.term, l.leadingLocked()
}

// TimeLeft is how long this replica may still act in term: zero unless it
// holds the lease in that very term (a replica that lost the lease and took
// it back has a new term). It implements controller.Leadership.
func (l *Lease) TimeLeft(term uint64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.leadingLocked() || l.term != term {
		return 0
	}
	return l.actUntil.Sub(l.now())
}

func (l *Lease) leadingLocked() bool {
	return l.held && l.now().Before(l.actUntil)
}

// Role says whether this replica leads, stands by, or cannot tell.
func (l *Lease) Role() Role {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.leadingLocked():
		return RoleLeader
	case l.reached:
		return RoleStandby
	}
	return RoleUnknown
}

// Attempt renews the lease when this replica holds it and otherwise tries to
// take it. It returns nil when DynamoDB answered, whether or not this
// replica leads now; an error when it could not be reached, in which case a
// holder keeps leading until its time is up.
func (l *Lease) Attempt(ctx context.Context) error {
	l.mu.Lock()
	held, version := l.held, l.version
	l.mu.Unlock()
	sent := l.now()
	in := l.write(sent, held, version)
	out, err := l.client.UpdateItem(ctx, in)

	l.mu.Lock()
	defer l.mu.Unlock()
	var failed *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &failed):
		l.reached = true
		if held {
			l.held = false
			l.log.Warn("lease lost: another replica holds it now", zap.String("lease", l.cfg.Name))
		}
		return nil
	case err != nil:
		l.reached = false
		verb := "take"
		if held {
			verb = "renew"
		}
		return fmt.Errorf("%s lease %q in table %s: %w", verb, l.cfg.Name, l.cfg.Table, err)
	}
	l.reached = true
	newVersion, ok := numberAttr(out.Attributes, versionAttribute)
	if !ok {
		newVersion = version + 1
	}
	if !held {
		l.term = uint64(max(newVersion, 1))
		l.log.Info("lease taken: this replica acts", zap.String("lease", l.cfg.Name), zap.String("holder", l.cfg.Holder),
			zap.Uint64("term", l.term))
	}
	l.held, l.version = true, newVersion
	l.actUntil = sent.Add(l.cfg.Duration - l.cfg.Duration/4)
	return nil
}

// write is the conditional UpdateItem that takes (held false) or renews the
// lease, as of sent.
func (l *Lease) write(sent time.Time, held bool, version int64) *dynamodb.UpdateItemInput {
	in := &dynamodb.UpdateItemInput{
		TableName: aws.String(l.cfg.Table),
		Key:       map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: l.cfg.Name}},
		ExpressionAttributeNames: map[string]string{
			"#hd": holderAttribute, "#ex": expiresAttribute, "#vn": versionAttribute,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":me":  &types.AttributeValueMemberS{Value: l.cfg.Holder},
			":exp": number(sent.Add(l.cfg.Duration).UnixMilli()),
			":one": number(1),
		},
		ReturnValues: types.ReturnValueUpdatedNew,
	}
	if held {
		in.UpdateExpression = aws.String("SET #ex = :exp, #vn = #vn + :one")
		in.ConditionExpression = aws.String("#hd = :me AND #vn = :v")
		in.ExpressionAttributeValues[":v"] = number(version)
		return in
	}
	in.UpdateExpression = aws.String("SET #hd = :me, #ex = :exp, #vn = if_not_exists(#vn, :zero) + :one")
	in.ConditionExpression = aws.String("attribute_not_exists(#pk) OR #ex < :now OR #hd = :me")
	in.ExpressionAttributeNames["#pk"] = KeyAttribute
	in.ExpressionAttributeValues[":now"] = number(sent.UnixMilli())
	in.ExpressionAttributeValues[":zero"] = number(0)
	return in
}

// Release gives the lease up, if this replica holds it, so that a standby
// takes over at its next attempt rather than when the lease expires. It
// stops acting at once, whatever DynamoDB answers.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	held, version := l.held, l.version
	l.held = false
	l.mu.Unlock()
	if !held {
		return nil
	}
	_, err := l.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(l.cfg.Table),
		Key:                      map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: l.cfg.Name}},
		UpdateExpression:         aws.String("SET #ex = :zero, #vn = #vn + :one"),
		ConditionExpression:      aws.String("#hd = :me AND #vn = :v"),
		ExpressionAttributeNames: map[string]string{"#hd": holderAttribute, "#ex": expiresAttribute, "#vn": versionAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":me": &types.AttributeValueMemberS{Value: l.cfg.Holder}, ":v": number(version),
			":zero": number(0), ":one": number(1),
		},
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return nil // someone else holds it already
	}
	if err != nil {
		return fmt.Errorf("release lease %q in table %s: %w", l.cfg.Name, l.cfg.Table, err)
	}
	l.log.Info("lease released", zap.String("lease", l.cfg.Name))
	return nil
}

// Run takes or renews the lease at once and then every RenewInterval until
// ctx is done, then releases it within releaseTimeout. Errors are logged:
// a holder that cannot renew stops acting when its time is up.
func (l *Lease) Run(ctx context.Context) {
	t := time.NewTicker(l.RenewInterval())
	defer t.Stop()
	for {
		l.attemptLogged(ctx)
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
			defer cancel()
			if err := l.Release(rctx); err != nil {
				l.log.Warn("release lease on shutdown; it expires on its own", zap.Error(err))
			}
			return
		case <-t.C:
		}
	}
}

// releaseTimeout bounds the release on shutdown.
const releaseTimeout = 3 * time.Second

func (l *Lease) attemptLogged(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, l.RenewInterval())
	defer cancel()
	if err := l.Attempt(ctx); err != nil && ctx.Err() == nil {
		l.log.Warn("lease table not reached", zap.Error(err), zap.Bool("leading", l.Role() == RoleLeader))
	}
}

// State is the lease item as the table has it.
type State struct {
	// Holder is the replica that took the lease last; empty when there is no
	// item.
	Holder  string
	Expires time.Time
	Version int64
}

// Read returns the lease item as the table has it now.
func (l *Lease) Read(ctx context.Context) (State, error) {
	out, err := l.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(l.cfg.Table),
		Key:            map[string]types.AttributeValue{KeyAttribute: &types.AttributeValueMemberS{Value: l.cfg.Name}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return State{}, fmt.Errorf("read lease %q in table %s: %w", l.cfg.Name, l.cfg.Table, err)
	}
	if len(out.Item) == 0 {
		return State{}, nil
	}
	ms, _ := numberAttr(out.Item, expiresAttribute)
	v, _ := numberAttr(out.Item, versionAttribute)
	return State{Holder: stringAttr(out.Item, holderAttribute), Expires: time.UnixMilli(ms).UTC(), Version: v}, nil
}

func number(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func numberAttr(item map[string]types.AttributeValue, name string) (int64, bool) {
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	return v, err == nil
}

func stringAttr(item map[string]types.AttributeValue, name string) string {
	if s, ok := item[name].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}
