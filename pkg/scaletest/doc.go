// Package scaletest holds only tests and benchmarks: it measures one daemon
// cycle over 100, 1,000 and 10,000 streams in one account, with the real
// controller and AWS adapters talking over HTTP to awsfake, which counts
// every call and enforces AWS's per-account rate limits. The fake runs in a
// process of its own, so that allocations and memory are the daemon's.
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 60m ./pkg/scaletest
//
// SCALETEST_BUDGET bounds each cycle (default 10m); a cycle cut short
// reports how many streams it decided.
package scaletest
