// Package storetest holds the conformance suite every store.Store engine
// must pass, plus helpers that give tests a fresh SQLite file or a fresh
// PostgreSQL schema (see PostgresEnv) and raw SQL access for tamper tests.
package storetest
