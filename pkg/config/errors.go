package config

import (
	"strings"
)

// Problem is one thing wrong with a configuration: the key it is about and,
// in words, what is wrong with it.
type Problem struct {
	// Key is the full path of the key, e.g. "streams[1].max_shards"; it is
	// empty for a problem with the file as a whole (missing, not YAML).
	Key string
	// Reason says what is wrong, e.g. `8 is greater than max_shards 4`.
	Reason string
}

// Error returns "KEY: REASON", or only the reason when there is no key.
func (p Problem) Error() string {
	if p.Key == "" {
		return p.Reason
	}
	return p.Key + ": " + p.Reason
}

// Error is what Load and Validate return when a configuration is unusable. It
// lists every problem found, not only the first, so that one run of the
// validate command shows all of them. Callers tell it apart with errors.As
// (the daemon exits with status 2 on it).
type Error struct {
	// File is the path of the configuration file, as given to Load; it is
	// empty for a Config built in code.
	File string
	// Problems are the problems found, in the order of the keys' checks.
	Problems []Problem
}

// Error prints one problem per line as "FILE: KEY: REASON".
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		if e.File != "" {
			b.WriteString(e.File)
			b.WriteString(": ")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap returns the problems as errors, so that the Error behaves like the
// errors.Join of its problems.
func (e *Error) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// errorOf returns an *Error for the problems, or nil when there are none.
func errorOf(file string, problems []Problem) error {
	if len(problems) == 0 {
		return nil
	}
	return &Error{File: file, Problems: problems}
}
