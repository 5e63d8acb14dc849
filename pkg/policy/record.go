package policy

import (
	"errors"
	"time"
)

// Record is everything the daemon keeps of a stream where it survives a
// restart and a change of leader: the stream-level history, the shard-level
// history, the lease term of the replica that wrote it, and whether an
// operator paused the stream. The daemon reads it whole and writes it whole
// (the AWS adapter keeps it in the stream's tags: one ListTagsForStream, one
// AddTagsToStream).
type Record struct {
	History History
	Shards  ShardLevelHistory
	// Term is the lease term under which the record was last written; 0
	// when unknown (a single replica, or a record older than terms). A
	// replica whose term is older does not act on the stream.
	Term uint64
	// Paused is when an operator paused the stream; zero when it is not
	// paused. A paused stream is observed and reported but never changed.
	// Only the pause and resume commands write it: saving a record leaves it
	// as it is.
	Paused time.Time
}

// ErrNotCalled means a change was not asked of AWS at all: an adapter that
// reads the stream before changing it found the change's context, which
// ends with the lease's time to act, done after that read. The change had
// no effect.
var ErrNotCalled = errors.New("change not called: the time to act ran out")

// AlertPaused tells that a paused stream (Record.Paused) was left alone
// when the daemon would have changed it; once per pause.
const AlertPaused AlertKind = "paused"
