package emulator

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill the emulator when the test binary dies
// without running its clean-up, for example when go test's -timeout panics it.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
