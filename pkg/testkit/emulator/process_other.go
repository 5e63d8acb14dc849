//go:build !linux

package emulator

import "os/exec"

// setParentDeathSignal does nothing where there is no parent-death signal: an emulator
// outlives a test binary that dies without running its clean-up.
func setParentDeathSignal(*exec.Cmd) {}
