// Package coretest holds cross-package tests of the Matrix protocol core:
// real signed room DAGs built with event.Build, parsed with event.Parse,
// authorised with authrules and resolved with stateres wired to the real
// authorisation rules, plus differential tests of authrules and stateres
// against gomatrixserverlib (a test-only oracle whose disagreements are
// investigated against the spec and recorded with a verdict).
//
// The package has no non-test code; this file exists so that the directory
// is a package.
package coretest
