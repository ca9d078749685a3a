// Package postgres opens a node's PostgreSQL database (jackc/pgx), for when
// one machine's SQLite is outgrown: the same store, the same conformance
// suite.
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/accord-antispam/accord/internal/store/sqlstore"
)

// Open connects with a PostgreSQL URL or DSN and migrates the schema.
//
// Reported messages and their analyses are stored compressed with LZ4
// where the server has it (PostgreSQL 14 and later, as Debian builds it)
// and the DSN does not choose otherwise (default_toast_compression): the
// server's default, pglz, spent most of an intake commit compressing them
// (5 ms of 6 for a group of five reports on a loaded machine). Values
// already stored keep their compression; both are read alike.
func Open(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, chosen := cfg.RuntimeParams["default_toast_compression"]; !chosen {
		var lz4 bool
		err := db.QueryRowContext(ctx, `SELECT COALESCE(bool_or('lz4' = ANY(enumvals)), false) FROM pg_settings WHERE name = 'default_toast_compression'`).Scan(&lz4)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("connect to postgres: %w", err)
		}
		if lz4 {
			db.Close()
			cfg.RuntimeParams["default_toast_compression"] = "lz4"
			if db, err = connect(ctx, cfg); err != nil {
				return nil, err
			}
		}
	}
	s, err := sqlstore.Open(ctx, db, sqlstore.Postgres)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return s, nil
}

func connect(ctx context.Context, cfg *pgx.ConnConfig) (*sql.DB, error) {
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(sqlstore.Postgres.Concurrency)
	// Every open connection is kept: database/sql keeps two idle by
	// default, so under load the others were closed and opened again
	// (a server process forked, the session authenticated, each
	// statement prepared anew) about once per report received.
	db.SetMaxIdleConns(sqlstore.Postgres.Concurrency)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return db, nil
}
