package policy

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestKeyRangesRoundTrip(t *testing.T) {
	var hot []KeyRange
	for i := range MaxHotKeys + 3 {
		hot = AddHotKey(hot, KeyRange{Lo: 0.1234567891 + float64(i)/20, Hi: 0.1298765432 + float64(i)/20})
	}
	if len(hot) != MaxHotKeys || hot[len(hot)-1].Lo < 0.6 {
		t.Fatalf("kept %d ranges ending with %v: want the newest %d", len(hot), hot[len(hot)-1], MaxHotKeys)
	}
	v := FormatKeyRanges(hot)
	if err := CheckTagValue(v); err != nil {
		t.Fatalf("%q: %v", v, err)
	}
	got, err := ParseKeyRanges(v)
	if err != nil || len(got) != len(hot) {
		t.Fatalf("parse %q: %v, %v", v, got, err)
	}
	for i := range got {
		// Rounded outward: the written range holds the range.
		if !got[i].Contains(hot[i]) || got[i].Width()-hot[i].Width() > 2.1e-6 {
			t.Errorf("range %d: %v from %v", i, got[i], hot[i])
		}
	}
	for _, bad := range []string{"0.5", "0.6-0.5", "x-0.2", "0.1-1.5"} {
		if _, err := ParseKeyRanges(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: error %v, want one naming it", bad, err)
		}
	}
}

func TestCallTimesRoundTrip(t *testing.T) {
	now := shardT0
	var calls []time.Time
	calls = append(calls, now.Add(-25*time.Hour)) // outside the window: dropped
	for i := range 48 {
		calls = append(calls, now.Add(-24*time.Hour+time.Duration(i)*29*time.Minute+17*time.Second))
	}
	calls = append(calls[:len(calls)-1], now.Add(-10*time.Second)) // just made
	v := FormatCallTimes(calls, now)
	if err := CheckTagValue(v); err != nil {
		t.Fatalf("%q: %v", v, err)
	}
	got, err := ParseCallTimes(v)
	if err != nil || len(got) != 48 {
		t.Fatalf("parse %q: %d times, %v", v, len(got), err)
	}
	for i, g := range got {
		want := calls[i+1]
		// Rounded up to the minute: never forgotten early.
		if (g.Before(want) && g.Before(now.Truncate(time.Minute))) || g.Sub(want) >= time.Minute {
			t.Errorf("call %d: %s from %s", i, g, want)
		}
	}
	if SplitMergeCallsUsed(got, now) != SplitMergeCallsUsed(calls, now) {
		t.Errorf("calls used %d after the round trip, %d before", SplitMergeCallsUsed(got, now), SplitMergeCallsUsed(calls, now))
	}
	if _, err := ParseCallTimes("12 -3"); err == nil {
		t.Error("a negative gap was accepted")
	}
	if err := CheckTagValue(strings.Repeat("x", 257)); !errors.Is(err, ErrStateTooLong) {
		t.Errorf("257 characters: %v", err)
	}
}
