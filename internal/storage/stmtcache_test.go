package storage

import "testing"

func TestSQLiteParams(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)`, `INSERT INTO t (a, b) VALUES (?, ?), (?, ?)`},
		{`UPDATE t SET a = $1 WHERE b = $2 AND ($3 = '' OR c = $3)`, `UPDATE t SET a = $1 WHERE b = $2 AND ($3 = '' OR c = $3)`}, // a literal
		{`DELETE FROM t WHERE a = $2 AND b = $1`, `DELETE FROM t WHERE a = $2 AND b = $1`},                                       // out of order
		{`DELETE FROM t WHERE a = $1 OR b = $1`, `DELETE FROM t WHERE a = $1 OR b = $1`},                                         // reused
		{`DELETE FROM t WHERE a = $10`, `DELETE FROM t WHERE a = $10`},
		{`SELECT 1`, `SELECT 1`},
		{`SELECT $`, `SELECT $`},
	} {
		if got := sqliteParams(tc.in); got != tc.want {
			t.Errorf("sqliteParams(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
