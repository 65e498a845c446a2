package config

import "fmt"

// Severity says whether a Diagnostic stops the server from starting.
type Severity int

const (
	Warning Severity = iota
	Error
)

func (s Severity) String() string {
	if s == Error {
		return "error"
	}
	return "warning"
}

// Diagnostic is one problem found in a configuration file.
type Diagnostic struct {
	Severity Severity
	Key      string // dotted path, e.g. "listeners[0].port"
	Line     int    // 1-based; 0 when unknown
	Message  string
}

func (d Diagnostic) String() string {
	if d.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s: %s", d.Severity, d.Line, d.Key, d.Message)
	}
	return fmt.Sprintf("%s: %s: %s", d.Severity, d.Key, d.Message)
}

// Diagnostics is the list of problems found while loading.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an Error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}
