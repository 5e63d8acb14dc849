package stream

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// The stream's record (policy.Record) is kept in its tags: the stream-level
// history (TagLastAction, TagCalls, TagShards), the shard-level history
// (TagShardCalls, TagHotKeys, TagSplits, TagDivided), the writer's lease
// term (TagTerm) and the operator's pause (TagPaused). It is read with one
// ListTagsForStream and written with one AddTagsToStream that sets every
// record tag, an empty value for a part the record lacks, so that no
// RemoveTagsFromStream is needed (AWS and kinesis-mock take 10 tags a call;
// the record has 8, and 9 of a stream's 50 with the pause).
const (
	// TagTerm holds the lease term of the replica that last wrote the
	// record, e.g. "42"; see policy.Record.Term.
	TagTerm = TagPrefix + "term"
	// TagPaused holds the time an operator paused the stream, RFC 3339,
	// e.g. "2026-12-04T15:00:00Z". Only the pause and resume commands write
	// it (SetPaused); SaveRecord leaves it as it is.
	TagPaused = TagPrefix + "paused"
)

// recordTags are every tag SaveRecord writes.
var recordTags = append(append(append([]string{}, stateTags...), shardStateTags...), TagTerm)

// LoadRecord reads the stream's record from its tags with one
// ListTagsForStream (more only for a stream with over 50 tags). A stream
// without them has an empty record. Malformed values are left out and
// reported to the WithTagWarnings function; they are not an error.
func (k *Kinesis) LoadRecord(ctx context.Context, name string) (policy.Record, error) {
	tags, err := k.ListTags(ctx, name)
	if err != nil {
		return policy.Record{}, err
	}
	r, problems := ParseRecord(tags, k.now())
	for _, p := range problems {
		k.warn(name, p)
	}
	return r, nil
}

// SaveRecord writes the record into the stream's tags with one
// AddTagsToStream, replacing the record that was there. The pause is not
// part of it: it stays as the pause and resume commands left it.
func (k *Kinesis) SaveRecord(ctx context.Context, name string, r policy.Record) error {
	return k.addTags(ctx, name, RecordTags(r))
}

// SetPaused pauses the stream (at not zero) or resumes it (at zero), by its
// TagPaused tag.
func (k *Kinesis) SetPaused(ctx context.Context, name string, at time.Time) error {
	if !at.IsZero() {
		return k.addTags(ctx, name, map[string]string{TagPaused: at.UTC().Format(time.RFC3339)})
	}
	if err := k.pace(ctx, opRemoveTagsFromStream); err != nil {
		return err
	}
	in := &kinesis.RemoveTagsFromStreamInput{StreamName: aws.String(name), TagKeys: []string{TagPaused}}
	if _, err := k.client.RemoveTagsFromStream(ctx, in); err != nil {
		return fmt.Errorf("remove tags from stream %q: %w", name, classify(err, false))
	}
	return nil
}

// addTags sets tags on the stream with one AddTagsToStream.
func (k *Kinesis) addTags(ctx context.Context, name string, tags map[string]string) error {
	if err := k.pace(ctx, opAddTagsToStream); err != nil {
		return err
	}
	in := &kinesis.AddTagsToStreamInput{StreamName: aws.String(name), Tags: tags}
	if _, err := k.client.AddTagsToStream(ctx, in); err != nil {
		return fmt.Errorf("add tags to stream %q: %w", name, classify(err, false))
	}
	return nil
}

// RecordTags returns every tag SaveRecord writes for r: those of
// HistoryTags, ShardHistoryTags and TagTerm, with an empty value for each
// part r lacks.
func RecordTags(r policy.Record) map[string]string {
	tags := map[string]string{}
	for _, key := range recordTags {
		tags[key] = ""
	}
	for key, v := range HistoryTags(r.History) {
		tags[key] = v
	}
	for key, v := range ShardHistoryTags(r.Shards) {
		tags[key] = v
	}
	if r.Term > 0 {
		tags[TagTerm] = strconv.FormatUint(r.Term, 10)
	}
	return tags
}

// ParseRecord reads a record from stream tags, as of now (ParseHistory,
// ParseShardHistory, the term and the pause). An empty value is a part the
// record lacks. Values it cannot trust are left out and described in the
// returned problems.
func ParseRecord(tags map[string]string, now time.Time) (policy.Record, []error) {
	set := map[string]string{}
	for key, v := range tags {
		if v != "" {
			set[key] = v
		}
	}
	var r policy.Record
	var problems, more []error
	r.History, problems = ParseHistory(set, now)
	r.Shards, more = ParseShardHistory(set, now)
	problems = append(problems, more...)
	if v, ok := set[TagTerm]; ok {
		term, err := strconv.ParseUint(v, 10, 64)
		if err != nil || term == 0 {
			problems = append(problems, &MalformedTagError{Key: TagTerm, Value: v, Reason: "want a positive whole number"})
		} else {
			r.Term = term
		}
	}
	if v, ok := set[TagPaused]; ok {
		at, err := time.Parse(time.RFC3339, v)
		if err != nil {
			// A pause tag is honoured even when its time cannot be read:
			// someone meant to pause the stream.
			problems = append(problems, &MalformedTagError{Key: TagPaused, Value: v, Reason: "time is not RFC 3339; the stream is paused all the same"})
			at = now
		}
		r.Paused = at.UTC()
	}
	return r, problems
}
