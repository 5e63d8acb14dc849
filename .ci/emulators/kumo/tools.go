//go:build tools

// Package kumo pins the kumo AWS emulator so that .ci/install-emulators can
// build github.com/sivchari/kumo/cmd/kumo with a go.sum the checksum database
// accepts. It has no code of its own.
package kumo

import _ "github.com/sivchari/kumo/cmd/kumo"
