package config

import (
	"math"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Database keys Synapse knows but Axon ignores.
var databaseUnsupported = []string{"txn_limit", "data_stores"}

// psycopg2Unsupported are libpq connection parameters and Twisted pool
// options that Synapse passes through but Axon does not act on yet. They are
// tolerated with a warning; anything else in args is an unknown key.
var psycopg2Unsupported = []string{
	"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
	"tcp_user_timeout", "connect_timeout", "application_name", "fallback_application_name",
	"options", "client_encoding", "target_session_attrs", "load_balance_hosts",
	"sslcert", "sslkey", "sslrootcert", "sslcrl", "sslcrldir", "sslpassword", "sslsni",
	"sslcompression", "sslnegotiation", "sslcertmode", "ssl_min_protocol_version", "ssl_max_protocol_version",
	"hostaddr", "passfile", "service", "channel_binding", "require_auth", "gssencmode",
	"krbsrvname", "gsslib", "gssdelegation", "requirepeer",
	"cp_reconnect", "cp_noisy", "cp_openfun", "cp_good_sql",
}

var psycopg2Keys = []string{"user", "password", "password_file", "dbname", "database", "host", "port", "sslmode", "cp_min", "cp_max"}

// sqlite3Unsupported are Python sqlite3.connect and pool options Axon ignores.
var sqlite3Unsupported = []string{"timeout", "check_same_thread", "isolation_level", "detect_types", "cached_statements", "uri", "cp_min", "cp_max", "cp_reconnect", "cp_noisy", "cp_openfun"}

var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

func (l *loader) database(e entry, path string) {
	// A missing or null database section means the SQLite default.
	entries, ok := l.w.mapping(e.val, path)
	if !ok {
		return
	}
	db := &l.c.Database
	var args *entry
	for _, de := range entries {
		p := child(path, de.key)
		switch de.key {
		case "name":
			s, good := l.w.str(de.val, p)
			if !good {
				continue
			}
			if s != "sqlite3" && s != "psycopg2" {
				l.w.errorf(de.val, p, "expected sqlite3 or psycopg2, got %q", s)
				continue
			}
			db.Engine = s
		case "allow_unsafe_locale":
			l.optBool(de, p, &db.AllowUnsafeLocale)
		case "args":
			de := de
			args = &de
		default:
			if slices.Contains(databaseUnsupported, de.key) {
				l.w.notSupported(de, p)
				continue
			}
			l.w.unknown(de, p, []string{"name", "args", "allow_unsafe_locale", "txn_limit"})
		}
	}
	if args == nil {
		return
	}
	argEntries, ok := l.w.mapping(args.val, child(path, "args"))
	if !ok {
		return
	}
	if db.Engine == "psycopg2" {
		l.postgresArgs(argEntries, child(path, "args"))
	} else {
		l.sqliteArgs(argEntries, child(path, "args"))
	}
}

func (l *loader) sqliteArgs(entries []entry, path string) {
	for _, e := range entries {
		p := child(path, e.key)
		switch {
		case e.key == "database":
			if s, ok := l.w.str(e.val, p); ok && s != "" {
				l.c.Database.SQLitePath = absPath(s)
			}
		case slices.Contains(sqlite3Unsupported, e.key):
			l.w.notSupported(e, p)
		default:
			l.w.unknown(e, p, slices.Concat([]string{"database"}, sqlite3Unsupported))
		}
	}
}

func (l *loader) postgresArgs(entries []entry, path string) {
	db := &l.c.Database
	db.SQLitePath = ""
	db.Port = DefaultPostgresPort
	db.CPMin, db.CPMax = DefaultPostgresPoolMin, DefaultPostgresPoolMax
	var password, passwordFile, dbname *entry
	var cpMinNode *yaml.Node
	for _, e := range entries {
		p := child(path, e.key)
		switch e.key {
		case "user":
			l.optString(e, p, &db.User)
		case "password":
			if !isNull(e.val) {
				password = &e
			}
		case "password_file":
			if !isNull(e.val) {
				passwordFile = &e
			}
		case "dbname", "database":
			// psycopg2 accepts both spellings for the database name.
			if dbname != nil {
				l.w.warnf(e.keyNode, p, "database name already given as %s on line %d; this one wins", dbname.key, dbname.keyNode.Line)
			}
			dbname = &e
			l.optString(e, p, &db.DBName)
		case "host":
			l.optString(e, p, &db.Host)
		case "port":
			if !isNull(e.val) {
				if v, ok := l.portValue(e.val, p); ok {
					db.Port = v
				}
			}
		case "sslmode":
			l.optString(e, p, &db.SSLMode)
			if db.SSLMode != "" && !slices.Contains(sslModes, db.SSLMode) {
				l.w.errorf(e.val, p, "expected one of disable, allow, prefer, require, verify-ca, verify-full, got %q", db.SSLMode)
			}
		case "cp_min":
			cpMinNode = e.val
			if v, ok := l.w.intRange(e.val, p, "pool size", 0, math.MaxInt32); ok {
				db.CPMin = v
			}
		case "cp_max":
			if v, ok := l.w.intRange(e.val, p, "pool size", 1, math.MaxInt32); ok {
				db.CPMax = v
			}
		default:
			if slices.Contains(psycopg2Unsupported, e.key) {
				l.w.notSupported(e, p)
				continue
			}
			l.w.unknown(e, p, slices.Concat(psycopg2Keys, psycopg2Unsupported))
		}
	}
	if db.CPMin > db.CPMax {
		l.w.errorf(cpMinNode, child(path, "cp_min"), "cp_min (%d) is larger than cp_max (%d)", db.CPMin, db.CPMax)
	}
	if !l.checkNoInlineAndFile(password, passwordFile, child(path, "password_file"), "password") {
		return
	}
	switch {
	case password != nil:
		l.optString(*password, child(path, "password"), &db.Password)
	case passwordFile != nil:
		if v, ok := l.readSecretFile(passwordFile.val, child(path, "password_file")); ok {
			db.Password = v
		}
	}
}

// portValue accepts a port as an integer or a numeric string, since libpq
// takes all parameters as strings and `port: "5432"` works with Synapse.
func (l *loader) portValue(n *yaml.Node, path string) (int, bool) {
	rn := resolve(n)
	if rn.Kind == yaml.ScalarNode && rn.Tag == "!!str" {
		c := *rn
		c.Tag = "!!int"
		var v int64
		if c.Decode(&v) == nil && v >= 1 && v <= 65535 {
			return int(v), true
		}
	}
	return l.w.intRange(n, path, "port", 1, 65535)
}

func (l *loader) optString(e entry, path string, dst *string) {
	if isNull(e.val) {
		return
	}
	if s, ok := l.w.str(e.val, path); ok {
		*dst = s
	}
}
