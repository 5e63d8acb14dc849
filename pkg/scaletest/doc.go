// Package scaletest holds only tests and benchmarks: it measures the
// daemon's cycles over 100, 1,000 and 10,000 streams in one account, with the
// daemon's own wiring (awsclient.Load, adapters.New, the stream-state cache's
// sweep) talking over HTTP to awsfake, which counts every call and enforces
// AWS's per-account rate limits. The fake runs in a process of its own, so
// that allocations and memory are the daemon's. Cycles run at the ticks of
// the 60 s poll interval, in real time.
//
//	GOMEMLIMIT=300MiB SCALETEST_BUDGET=10m go test -run '^$' -bench 'BenchmarkCycle$' -benchtime 1x -timeout 60m ./pkg/scaletest
//
// GOMEMLIMIT is what the container sets. SCALETEST_BUDGET bounds each cycle
// (default 10m); a cycle cut short reports how many streams it decided.
package scaletest
