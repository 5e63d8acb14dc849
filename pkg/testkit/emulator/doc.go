// Package emulator starts the AWS emulators that tests run against and builds real
// aws-sdk-go-v2 clients for them, so that code which talks to Kinesis, CloudWatch and
// SNS is exercised through the SDK itself rather than only through hand-written fakes.
//
// Two emulators are supported, each run as a plain child process bound to 127.0.0.1 on
// a free port and stopped by PID:
//
//   - kinesis-mock (npm package kinesis-local) for Kinesis: [LaunchKinesis], [StartKinesis].
//   - kumo for CloudWatch, SNS and SQS: [LaunchKumo], [StartKumo].
//
// Both are installed by .ci/install-emulators into [Dir]. When they are missing, the
// testing helpers skip the test, or fail it when the CI environment variable is set.
//
// Starting an emulator takes one to two seconds, so a package should share one per test
// binary rather than start one per test:
//
//	var kinesisMock = emulator.SharedKinesis(emulator.KinesisOptions{})
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		kinesisMock.Stop()
//		os.Exit(code)
//	}
//
//	func TestReshard(t *testing.T) {
//		client := kinesisMock.Get(t).Client()
//		...
//	}
//
// Tests that share an emulator must use resource names of their own, for example
// with [UniqueName].
package emulator
