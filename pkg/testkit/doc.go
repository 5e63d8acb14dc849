// Package testkit holds test support shared by the project's packages and
// its command: the AWS emulators the tests start (emulator) and a CloudWatch
// test server with true Period/Stat semantics (cwtest). Nothing in the daemon
// imports it.
package testkit
