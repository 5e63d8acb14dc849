// Package faulttest holds only tests: it runs the real controller with the
// real AWS adapters, whose SDK clients talk through fault-injecting proxies
// (pkg/testkit/faultproxy) to kinesis-mock, kumo's SNS and the CloudWatch test
// server, over many simulated cycles, and checks that faults never make the
// daemon act wrongly: no scale-down on missing, partial or erroneous data, no
// call beyond max_shards, double, half or the quota, one alert per persistent
// fault, and convergence once the fault clears.
//
// Run it with `go test -v -run TestFaults ./pkg/faulttest` to see the figures
// of each scenario. FAULTTEST_STRICT=1 turns the scenarios marked as known
// bugs of other packages from skips into failures.
package faulttest
