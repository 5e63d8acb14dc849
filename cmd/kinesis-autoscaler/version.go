package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3"; left
// at "dev", the module version of the build info is used instead (what
// `go install ...@v1.2.3` records).
var version = "dev"

// revision is set at build time with -ldflags "-X main.revision=COMMIT" where
// the build info has none (the Dockerfile builds without the .git
// directory); empty or "unknown", the build info's VCS revision is used.
var revision = ""

// buildVersion is what the binary knows of its own build.
type buildVersion struct {
	// Version is the -X version, else the module version from the build
	// info, else "dev".
	Version string
	// Revision is the VCS revision the binary was built from, with
	// "-dirty" when the work tree had changes; "unknown" when not recorded.
	Revision string
	// GoVersion is the Go toolchain's version.
	GoVersion string
}

// readBuildVersion reads the version from the -X flag and the build info.
func readBuildVersion() buildVersion {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	v := versionFrom(version, bi)
	if revision != "" && revision != "unknown" && v.Revision == "unknown" {
		v.Revision = revision
	}
	return v
}

// versionFrom combines the -X version with the build info, which may be nil.
func versionFrom(linked string, bi *debug.BuildInfo) buildVersion {
	v := buildVersion{Version: linked, Revision: "unknown", GoVersion: runtime.Version()}
	if bi == nil {
		return v
	}
	if bi.GoVersion != "" {
		v.GoVersion = bi.GoVersion
	}
	if (v.Version == "" || v.Version == "dev") && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v.Version = bi.Main.Version
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && v.Revision != "unknown" {
		v.Revision += "-dirty"
	}
	return v
}

// String is the line `version` prints.
func (v buildVersion) String() string {
	return fmt.Sprintf("kinesis-autoscaler %s (commit %s, %s)", v.Version, v.Revision, v.GoVersion)
}

func versionCommand(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit it was built from and the Go version",
		Args:  noArgs,
		Run: func(_ *cobra.Command, _ []string) {
			fmt.Fprintln(stdout, readBuildVersion())
		},
	}
}
