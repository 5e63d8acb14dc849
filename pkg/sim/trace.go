package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

// Limits on trace values, far above any real stream, so that arithmetic on
// them never overflows.
const (
	// MaxTraceRecords is the most records a trace minute may hold.
	MaxTraceRecords = 1e12
	// MaxTraceBytes is the most bytes a trace minute may hold.
	MaxTraceBytes = 1e18
	// MaxRecordBytes is the largest record Kinesis accepts; the simulation
	// caps a minute's average record size at it.
	MaxRecordBytes = 1 << 20
)

// Limits on what one simulation takes, so that a small file cannot make it
// allocate without bound (a 22-byte trace of 1e12 records a minute asked
// for 16.7 million shards and reached 9 GB). Both are checked before the
// simulation allocates anything per shard or per minute.
const (
	// MaxTraceMinutes is the longest trace: 92 days of minutes.
	MaxTraceMinutes = 92 * 24 * 60
	// MaxTraceFileBytes is the largest trace file: room for MaxTraceMinutes
	// rows of long numbers, and no room for one line of a gigabyte.
	MaxTraceFileBytes = 64 << 20
	// MaxPeakShards is the most shards any minute of a trace may need, as
	// replayed (after --peak-shards scales it, with the model's record
	// size where the trace gives no bytes); also the largest PeakShards.
	MaxPeakShards = 10_000
)

// DefaultStart is when a trace without a start time begins: a Monday, so
// that weekdays in a trace fall on weekdays.
var DefaultStart = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)

// TraceMinute is one minute of a trace.
type TraceMinute struct {
	// Records is how many records producers offer in the minute.
	Records int64
	// Bytes is the sum of their sizes, when HasBytes.
	Bytes    int64
	HasBytes bool
}

// Trace is per-minute traffic offered to a stream, contiguous in time.
type Trace struct {
	// Name names the trace in reports, e.g. its file name.
	Name string
	// Description says in words what the trace is; optional.
	Description string
	// Start is the first instant of the first minute; zero means
	// DefaultStart.
	Start time.Time
	// FirstMinute is the number the trace gives its first minute (the
	// timeline's minute column counts on from it).
	FirstMinute int64
	// Minutes are the trace's minutes, oldest first.
	Minutes []TraceMinute
	// lines are the file lines of the minutes, when the trace was read
	// from a file.
	lines []int
}

// where names minute i of the trace for an error: its file line when the
// trace was read from a file, else its minute number.
func (t Trace) where(i int) *TraceError {
	if i < len(t.lines) {
		return &TraceError{File: t.Name, Line: t.lines[i]}
	}
	return &TraceError{File: t.Name + ": minute " + strconv.FormatInt(t.FirstMinute+int64(i), 10)}
}

// NewTrace returns a trace of records per minute; bytes may be nil (sizes
// then come from Model.RecordBytes) or hold one entry per minute.
func NewTrace(name string, records, bytes []int64) (Trace, error) {
	if bytes != nil && len(bytes) != len(records) {
		return Trace{}, fmt.Errorf("trace %s: %d minutes of records but %d of bytes", name, len(records), len(bytes))
	}
	t := Trace{Name: name, Minutes: make([]TraceMinute, len(records))}
	for i, r := range records {
		t.Minutes[i].Records = r
		if bytes != nil {
			t.Minutes[i].Bytes, t.Minutes[i].HasBytes = bytes[i], true
		}
	}
	return t, t.Validate()
}

// TraceFromMinutes builds a trace from a stream's CloudWatch history: one
// policy.Minute per minute, oldest first, contiguous. IncomingRecords and
// IncomingBytes are the offered load; a minute that is not Known had no
// datapoint, which Kinesis means as no traffic, and counts as zero.
func TraceFromMinutes(name string, ms []policy.Minute) (Trace, error) {
	t := Trace{Name: name, Minutes: make([]TraceMinute, len(ms))}
	if len(ms) > 0 {
		t.Start = ms[0].Start.Truncate(time.Minute)
	}
	for i, m := range ms {
		if i > 0 && !m.Start.Equal(ms[i-1].Start.Add(time.Minute)) {
			return Trace{}, fmt.Errorf("trace %s: minute %d starts at %s, not one minute after %s",
				name, i, m.Start.UTC().Format(time.RFC3339), ms[i-1].Start.UTC().Format(time.RFC3339))
		}
		if !m.Known {
			t.Minutes[i].HasBytes = true
			continue
		}
		if err := checkCount("records", m.IncomingRecords, MaxTraceRecords); err != nil {
			return Trace{}, fmt.Errorf("trace %s: minute %d: %w", name, i, err)
		}
		if err := checkCount("bytes", m.IncomingBytes, MaxTraceBytes); err != nil {
			return Trace{}, fmt.Errorf("trace %s: minute %d: %w", name, i, err)
		}
		t.Minutes[i] = TraceMinute{Records: int64(math.Round(m.IncomingRecords)), Bytes: int64(math.Round(m.IncomingBytes)), HasBytes: true}
	}
	return t, t.Validate()
}

// Validate checks that the trace has minutes and that each is plausible.
func (t Trace) Validate() error {
	if len(t.Minutes) == 0 {
		return fmt.Errorf("trace %s: no minutes", t.Name)
	}
	if len(t.Minutes) > MaxTraceMinutes {
		return fmt.Errorf("trace %s: %d minutes is longer than %d (%d days), the most a simulation takes",
			t.Name, len(t.Minutes), MaxTraceMinutes, MaxTraceMinutes/(24*60))
	}
	for i, m := range t.Minutes {
		if err := m.check(); err != nil {
			return fmt.Errorf("trace %s: minute %d: %w", t.Name, t.FirstMinute+int64(i), err)
		}
	}
	return nil
}

func (m TraceMinute) check() error {
	switch {
	case m.Records < 0:
		return fmt.Errorf("records %d is negative", m.Records)
	case m.Records > MaxTraceRecords:
		return fmt.Errorf("records %d is more than %.0g", m.Records, float64(MaxTraceRecords))
	case !m.HasBytes:
		return nil
	case m.Bytes < 0:
		return fmt.Errorf("bytes %d is negative", m.Bytes)
	case m.Bytes > MaxTraceBytes:
		return fmt.Errorf("bytes %d is more than %.0g", m.Bytes, float64(MaxTraceBytes))
	case m.Records == 0 && m.Bytes > 0:
		return fmt.Errorf("%d bytes but no records", m.Bytes)
	}
	return nil
}

// Start time of the trace, DefaultStart when it has none.
func (t Trace) start() time.Time {
	if t.Start.IsZero() {
		return DefaultStart
	}
	return t.Start
}

// TraceError is a problem with a trace file, at a line of it.
type TraceError struct {
	File   string
	Line   int
	Reason string
}

func (e *TraceError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

// ReadTrace reads a trace in CSV: a header `minute,records,bytes` (or
// `minute,records`), then one row per minute. minute is an integer that rises
// by exactly 1 from row to row; records a non-negative number (rounded to a
// whole record); bytes a non-negative number or empty (then sizes come from
// Model.RecordBytes). name names the source in errors, which are
// *TraceError values naming the line and the reason.
func ReadTrace(r io.Reader, name string) (Trace, error) {
	return readTrace(r, name, MaxTraceFileBytes)
}

// readTrace is ReadTrace with a limit on the bytes read.
func readTrace(r io.Reader, name string, limit int64) (Trace, error) {
	fail := func(line int, format string, args ...any) (Trace, error) {
		return Trace{}, &TraceError{File: name, Line: line, Reason: fmt.Sprintf(format, args...)}
	}
	cr := csv.NewReader(&limitedReader{r: r, limit: limit, left: limit})
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return fail(0, "the file is empty; it must start with the header minute,records,bytes")
	}
	if err != nil {
		return fail(csvLine(err, 1), "%s", csvReason(err))
	}
	cols := len(header)
	if h := strings.TrimPrefix(strings.Join(header, ","), "\ufeff"); h != "minute,records,bytes" && h != "minute,records" {
		return fail(1, "header is %q; want minute,records,bytes", clip(h))
	}

	t := Trace{Name: name}
	var prev int64
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(csvLine(err, 0), "%s", csvReason(err))
		}
		line, _ := cr.FieldPos(0)
		if len(t.Minutes) == MaxTraceMinutes {
			return fail(line, "the trace is longer than %d minutes (%d days), the most a simulation takes",
				MaxTraceMinutes, MaxTraceMinutes/(24*60))
		}
		if len(row) != cols {
			return fail(line, "%d fields; the header has %d", len(row), cols)
		}
		minute, err := strconv.ParseInt(strings.TrimSpace(row[0]), 10, 64)
		if err != nil {
			return fail(line, "minute %q is not an integer", clip(row[0]))
		}
		switch {
		case minute < 0:
			return fail(line, "minute %d is negative", minute)
		case len(t.Minutes) == 0:
			t.FirstMinute = minute
		case minute == prev:
			return fail(line, "minute %d appears twice", minute)
		case minute < prev:
			return fail(line, "minute %d comes after minute %d; minutes must rise by 1", minute, prev)
		case minute > prev+1:
			return fail(line, "minute %d follows minute %d: minutes %d to %d are missing (a trace has no gaps)",
				minute, prev, prev+1, minute-1)
		}
		prev = minute

		records, err := parseCount("records", row[1], MaxTraceRecords)
		if err != nil {
			return fail(line, "%v", err)
		}
		m := TraceMinute{Records: int64(math.Round(records))}
		if cols == 3 && strings.TrimSpace(row[2]) != "" {
			bytes, err := parseCount("bytes", row[2], MaxTraceBytes)
			if err != nil {
				return fail(line, "%v", err)
			}
			m.Bytes, m.HasBytes = int64(math.Round(bytes)), true
		}
		if err := m.check(); err != nil {
			return fail(line, "%v", err)
		}
		t.Minutes = append(t.Minutes, m)
		t.lines = append(t.lines, line)
	}
	if len(t.Minutes) == 0 {
		return fail(0, "no minutes after the header")
	}
	return t, nil
}

// tooLargeError is what a trace reader returns past its limit.
type tooLargeError struct{ limit int64 }

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("the file is larger than %d bytes, the most a simulation reads", e.limit)
}

// limitedReader reads at most left bytes of r, then fails with a
// *tooLargeError rather than end the file early.
type limitedReader struct {
	r           io.Reader
	limit, left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, &tooLargeError{limit: l.limit}
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// parseCount parses a non-negative finite number no larger than limit.
func parseCount(what, s string, limit float64) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("%s is empty", what)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a number", what, clip(s))
	}
	return v, checkCount(what, v, limit)
}

func checkCount(what string, v, limit float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Errorf("%s is %v; it must be a finite number", what, v)
	case v < 0:
		return fmt.Errorf("%s %v is negative", what, v)
	case v > limit:
		return fmt.Errorf("%s %v is more than %.0g", what, v, limit)
	}
	return nil
}

func csvLine(err error, fallback int) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) && pe.Line > 0 {
		return pe.Line
	}
	return fallback
}

func csvReason(err error) string {
	var pe *csv.ParseError
	switch {
	case errors.As(err, new(*tooLargeError)):
		return err.Error()
	case errors.As(err, &pe):
		return "not valid CSV: " + pe.Err.Error()
	}
	return "cannot read the trace: " + err.Error()
}

// clip shortens s for an error message.
func clip(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}
