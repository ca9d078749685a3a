// Package sqlite opens a node's SQLite database (pure Go, modernc.org/sqlite)
// in WAL mode with full synchronous commits: a commit that returned is on
// disk, which is what lets the desk acknowledge a report.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite"

	"github.com/accord-antispam/accord/internal/store/sqlstore"
)

// Open opens (creating if needed) the database file and migrates it.
func Open(ctx context.Context, path string) (*sqlstore.Store, error) {
	db, err := openDB(ctx, path)
	if err != nil {
		return nil, err
	}
	s, err := sqlstore.Open(ctx, db, sqlstore.SQLite)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return s, nil
}

// openDB opens the database file with the settings the store needs.
func openDB(ctx context.Context, path string) (*sql.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	q := url.Values{}
	// secure_delete zeroes what a delete or an update frees, in the page
	// and in the freed pages, so an erased complaint is not left in the
	// file's free space; auto_vacuum=INCREMENTAL (effective on a new
	// file only: an older one needs one VACUUM, see docs/desk.md) lets
	// Scrub give the freed pages back after a purge.
	for _, p := range []string{"auto_vacuum(INCREMENTAL)", "journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(OFF)", "secure_delete(ON)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db.SetMaxOpenConns(sqlstore.SQLite.Concurrency)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return db, nil
}
