package sim

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"
)

const fixtures = "../../testdata/traces"

func TestReadTraceFixtures(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		wantLine int
		want     string // substring of the reason; empty means valid
		minutes  int
	}{
		{name: "with bytes", file: "small.csv", minutes: 10},
		{name: "without bytes", file: "no_bytes.csv", minutes: 4},
		{name: "gap", file: "bad_gap.csv", wantLine: 4, want: "minutes 2 to 2 are missing"},
		{name: "negative records", file: "bad_negative.csv", wantLine: 3, want: "records -5 is negative"},
		{name: "wrong header", file: "bad_header.csv", wantLine: 1, want: "want minute,records,bytes"},
		{name: "empty file", file: "empty.csv", want: "the file is empty"},
		{name: "header only", file: "header_only.csv", want: "no minutes after the header"},
		{name: "fractional minute", file: "bad_minute.csv", wantLine: 3, want: `minute "1.5" is not an integer`},
		{name: "NaN records", file: "bad_nan.csv", wantLine: 3, want: "records is NaN"},
		{name: "infinite bytes", file: "bad_inf.csv", wantLine: 3, want: "bytes is +Inf"},
		{name: "duplicate minute", file: "bad_duplicate.csv", wantLine: 3, want: "minute 0 appears twice"},
		{name: "missing field", file: "bad_fields.csv", wantLine: 3, want: "2 fields; the header has 3"},
		{name: "records not a number", file: "bad_records.csv", wantLine: 2, want: `records "ten" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open(filepath.Join(fixtures, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tr, err := ReadTrace(f, tt.file)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ReadTrace: %v", err)
				}
				if len(tr.Minutes) != tt.minutes {
					t.Errorf("got %d minutes, want %d", len(tr.Minutes), tt.minutes)
				}
				return
			}
			var te *TraceError
			if !errors.As(err, &te) {
				t.Fatalf("got %v, want a *TraceError", err)
			}
			if te.File != tt.file || te.Line != tt.wantLine || !strings.Contains(te.Reason, tt.want) {
				t.Errorf("got %q (line %d), want line %d and %q", err, te.Line, tt.wantLine, tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.file) {
				t.Errorf("error %q does not start with the file name", err)
			}
		})
	}
}

func TestReadTraceValues(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []TraceMinute
		first int64
	}{
		{name: "bytes given and empty", input: "minute,records,bytes\n5,10,2000\n6,3,\n",
			want: []TraceMinute{{Records: 10, Bytes: 2000, HasBytes: true}, {Records: 3}}, first: 5},
		{name: "two columns, spaces, decimals rounded", input: "minute,records\n0, 2.6\n1,0\n",
			want: []TraceMinute{{Records: 3}, {Records: 0}}},
		{name: "byte order mark", input: "\ufeffminute,records,bytes\n0,1,\n", want: []TraceMinute{{Records: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := ReadTrace(strings.NewReader(tt.input), "t.csv")
			if err != nil {
				t.Fatal(err)
			}
			if tr.FirstMinute != tt.first || len(tr.Minutes) != len(tt.want) {
				t.Fatalf("got first %d, %v", tr.FirstMinute, tr.Minutes)
			}
			for i := range tt.want {
				if tr.Minutes[i] != tt.want[i] {
					t.Errorf("minute %d: got %+v, want %+v", i, tr.Minutes[i], tt.want[i])
				}
			}
		})
	}
}

func TestReadTraceRejects(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{name: "bytes without records", input: "minute,records,bytes\n0,0,10\n", want: "t.csv:2: 10 bytes but no records"},
		{name: "minute going back", input: "minute,records\n3,1\n2,1\n", want: "t.csv:3: minute 2 comes after minute 3"},
		{name: "negative minute", input: "minute,records\n-1,1\n", want: "t.csv:2: minute -1 is negative"},
		{name: "too many records", input: "minute,records\n0,1e13\n", want: "is more than"},
		{name: "negative bytes", input: "minute,records,bytes\n0,1,-1\n", want: "t.csv:2: bytes -1 is negative"},
		{name: "bare quote", input: "minute,records\n0,\"1\n", want: "t.csv:2: not valid CSV"},
		{name: "empty records", input: "minute,records\n0,\n", want: "t.csv:2: records is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadTrace(strings.NewReader(tt.input), "t.csv")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestTraceLimits: a trace longer than MaxTraceMinutes, or one whose
// busiest minute needs more than MaxPeakShards, is refused with its file and
// line before anything is simulated (a 22-byte trace reached 9 GB).
func TestTraceLimits(t *testing.T) {
	t.Run("longer than the maximum", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("minute,records\n")
		for i := range MaxTraceMinutes + 1 {
			fmt.Fprintf(&b, "%d,1\n", i)
		}
		_, err := ReadTrace(strings.NewReader(b.String()), "long.csv")
		var te *TraceError
		if !errors.As(err, &te) || te.Line != MaxTraceMinutes+2 || !strings.Contains(te.Reason, "longer than") {
			t.Fatalf("got %v, want a *TraceError at line %d", err, MaxTraceMinutes+2)
		}
	})
	t.Run("one endless line", func(t *testing.T) {
		huge := io.MultiReader(strings.NewReader("minute,records\n0,"), infiniteDigits{})
		_, err := readTrace(huge, "huge.csv", 1<<16)
		var te *TraceError
		if !errors.As(err, &te) || te.File != "huge.csv" || !strings.Contains(te.Reason, "larger than 65536 bytes") {
			t.Fatalf("got %v, want a *TraceError saying the file is too large", err)
		}
	})
	tests := []struct {
		name     string
		input    string
		model    func(m *Model)
		wantLine int
	}{
		{name: "a peak need above the maximum", input: "minute,records\n0,1\n1,1e12\n", model: func(*Model) {}, wantLine: 3},
		{
			// 1e8 records of 1 MiB: 1.7 million shards by bytes.
			name: "a peak need above the maximum with the model's record size", input: "minute,records\n0,1e8\n",
			model: func(m *Model) { m.RecordBytes = MaxRecordBytes }, wantLine: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := ReadTrace(strings.NewReader(tt.input), "peak.csv")
			if err != nil {
				t.Fatal(err)
			}
			m := DefaultModel()
			tt.model(&m)
			_, err = PeakShards(tr, m)
			var te *TraceError
			if !errors.As(err, &te) || te.File != "peak.csv" || te.Line != tt.wantLine || !strings.Contains(te.Reason, "most a simulation takes") {
				t.Fatalf("got %v, want a *TraceError at peak.csv:%d", err, tt.wantLine)
			}
		})
	}
	t.Run("scaled down, the same trace is taken", func(t *testing.T) {
		tr, err := ReadTrace(strings.NewReader("minute,records\n0,1\n1,1e12\n"), "peak.csv")
		if err != nil {
			t.Fatal(err)
		}
		m := DefaultModel()
		m.PeakShards = 40
		if peak, err := PeakShards(tr, m); err != nil || peak != 40 {
			t.Fatalf("PeakShards = %d, %v; want 40", peak, err)
		}
	})
	t.Run("peak shards above the maximum", func(t *testing.T) {
		m := DefaultModel()
		m.PeakShards = MaxPeakShards + 1
		if err := m.Validate(); err == nil {
			t.Fatal("model with peak shards above the maximum accepted")
		}
	})
}

// infiniteDigits is an endless run of the digit 1.
type infiniteDigits struct{}

func (infiniteDigits) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '1'
	}
	return len(p), nil
}

func TestTraceFromMinutes(t *testing.T) {
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ms := []policy.Minute{
		{Start: start, Known: true, IncomingRecords: 600, IncomingBytes: 60000},
		{Start: start.Add(time.Minute)}, // no datapoint: no traffic
		{Start: start.Add(2 * time.Minute), Known: true, IncomingRecords: 10, IncomingBytes: 500},
	}
	tr, err := TraceFromMinutes("cw:orders", ms)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Start.Equal(start) || len(tr.Minutes) != 3 || tr.Minutes[0].Records != 600 || tr.Minutes[1].Records != 0 || tr.Minutes[2].Bytes != 500 {
		t.Errorf("got %+v", tr)
	}
	ms[2].Start = start.Add(3 * time.Minute)
	if _, err := TraceFromMinutes("cw:orders", ms); err == nil || !strings.Contains(err.Error(), "not one minute after") {
		t.Errorf("gap: got %v", err)
	}
	if _, err := TraceFromMinutes("cw:orders", nil); err == nil {
		t.Error("empty history: got no error")
	}
}

func TestDefaultTraceIsDeterministic(t *testing.T) {
	a, b := DefaultTrace(), DefaultTrace()
	if len(a.Minutes) != 2880 {
		t.Fatalf("got %d minutes", len(a.Minutes))
	}
	busiest := 0
	for i := range a.Minutes {
		if a.Minutes[i] != b.Minutes[i] {
			t.Fatalf("minute %d differs between calls", i)
		}
		if a.Minutes[i].Records > a.Minutes[busiest].Records {
			busiest = i
		}
	}
	// The flash crowd on day 2 at 14:10 is the busiest minute.
	if busiest < 1440+14*60+10 || busiest > 1440+15*60 {
		t.Errorf("busiest minute %d is not the flash crowd", busiest)
	}
}

func FuzzReadTrace(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join(fixtures, "*.csv"))
	for _, p := range paths {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ReadTrace(strings.NewReader(string(data)), "fuzz.csv")
		if err != nil {
			var te *TraceError
			if !errors.As(err, &te) || te.File != "fuzz.csv" {
				t.Fatalf("error %v is not a *TraceError naming the file", err)
			}
			return
		}
		if err := tr.Validate(); err != nil {
			t.Fatalf("accepted a trace that does not validate: %v", err)
		}
		// Whatever is accepted can be prepared for simulation.
		m := DefaultModel()
		m.PeakShards = 3
		if _, err := prepare(tr, m); err != nil && !strings.Contains(err.Error(), "has no records") {
			t.Fatalf("prepare: %v", err)
		}
	})
}
