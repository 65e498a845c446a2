package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that a nil error
// always comes with a Config.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/seed*.yaml")
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"", "server_name: x", "- a", "a: &a [*a]", "listeners: [{port: x}]",
		"<<: {server_name: x}", "database: {name: psycopg2, args: {port: '1'}}",
		"password_config: {enabled: only_for_reauth, policy: {minimum_length: 1}}",
		"max_upload_size: 99999999999999999999T", "\tserver_name: x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, err := Parse(data, "fuzz.yaml")
		if err == nil && c == nil {
			t.Fatal("nil Config without error")
		}
	})
}
