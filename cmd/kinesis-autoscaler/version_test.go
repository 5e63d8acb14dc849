package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionFrom(t *testing.T) {
	tests := []struct {
		name   string
		linked string
		bi     *debug.BuildInfo
		want   buildVersion
	}{
		{
			name: "no build info", linked: "dev", bi: nil,
			want: buildVersion{Version: "dev", Revision: "unknown", GoVersion: "go-runtime"},
		},
		{
			name: "go install at a version", linked: "dev",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}},
			want: buildVersion{Version: "v1.4.0", Revision: "unknown", GoVersion: "go1.26.8"},
		},
		{
			name: "-X wins over the module version", linked: "v2.0.0-rc1",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}},
			want: buildVersion{Version: "v2.0.0-rc1", Revision: "unknown", GoVersion: "go1.26.8"},
		},
		{
			name: "local build of a modified checkout", linked: "dev",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "71be902"}, {Key: "vcs.modified", Value: "true"},
			}},
			want: buildVersion{Version: "dev", Revision: "71be902-dirty", GoVersion: "go1.26.8"},
		},
		{
			name: "clean checkout", linked: "dev",
			bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.1-0.20261204154400-71be902aaaaa"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "71be902"}, {Key: "vcs.modified", Value: "false"},
			}},
			want: buildVersion{Version: "v0.3.1-0.20261204154400-71be902aaaaa", Revision: "71be902", GoVersion: "go1.26.8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := versionFrom(tt.linked, tt.bi)
			if tt.bi == nil {
				// Without build info the runtime's own version is used.
				tt.want.GoVersion = got.GoVersion
				if got.GoVersion == "" {
					t.Error("no Go version")
				}
			}
			if got != tt.want {
				t.Errorf("versionFrom = %+v, want %+v", got, tt.want)
			}
		})
	}
}
