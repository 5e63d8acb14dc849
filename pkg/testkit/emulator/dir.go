package emulator

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// InstallHint is the command that installs the emulators; error messages name it.
const InstallHint = ".ci/install-emulators"

// ErrNotInstalled is wrapped by the errors of [LaunchKinesis] and [LaunchKumo] when an
// emulator, or the program that runs it, is not installed.
var ErrNotInstalled = errors.New("emulator not installed")

// Dir returns the directory the emulators are installed in: $EMULATOR_DIR when it is
// set, otherwise .emulators in the module root, which is found by walking up from the
// working directory to the nearest go.mod. Without a go.mod it returns ".emulators"
// relative to the working directory.
func Dir() string {
	if dir := os.Getenv("EMULATOR_DIR"); dir != "" {
		return dir
	}
	root, err := moduleRoot()
	if err != nil {
		return ".emulators"
	}
	return filepath.Join(root, ".emulators")
}

// moduleRoot walks up from the working directory to the nearest directory holding a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}

// requireFiles returns an error wrapping ErrNotInstalled that names the first missing path.
func requireFiles(emulator string, paths ...string) error {
	for _, path := range paths {
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%w: %s: %s is missing; run %s (EMULATOR_DIR=%s)",
				ErrNotInstalled, emulator, path, InstallHint, Dir())
		}
	}
	return nil
}
