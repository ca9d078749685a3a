package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/accord-antispam/accord/internal/store/sqlstore"
	"github.com/accord-antispam/accord/internal/store/storetest"
)

var schemaSeq atomic.Int64

// TestConformance runs the shared suite against a real PostgreSQL, which
// the test command (test.sh) installs and starts, and names in
// ACCORD_POSTGRES_DSN. Each test gets its own schema.
func TestConformance(t *testing.T) {
	dsn := pgDSN(t)
	storetest.Run(t, func(t *testing.T) storetest.Store { return open(t, freshSchema(t, dsn)) })
}

// TestTwoInstances: two stores on one database (two serve processes)
// commit at once; one campaign per spam run, one custody chain.
func TestTwoInstances(t *testing.T) {
	dsn := freshSchema(t, pgDSN(t))
	a, b := open(t, dsn), open(t, dsn)
	storetest.TwoInstances(t, a, b)
	again, locked := a.CommitRetries()
	again2, locked2 := b.CommitRetries()
	t.Logf("commits started again after a campaign was founded behind them: %d, then under the lock: %d", again+again2, locked+locked2)
}

// TestTwoInstancesMerging: two stores on one database merge campaigns at
// once; one campaign per run, one custody chain.
func TestTwoInstancesMerging(t *testing.T) {
	dsn := freshSchema(t, pgDSN(t))
	a, b := open(t, dsn), open(t, dsn)
	storetest.TwoInstancesMerging(t, a, b)
	again, locked := a.CommitRetries()
	again2, locked2 := b.CommitRetries()
	t.Logf("commits started again after campaign keys moved behind them: %d, then under the lock: %d", again+again2, locked+locked2)
}

// TestTwoInstancesLockFirst: the same with every commit taking the
// custody head before it reads the campaigns (where a commit ends when
// its snapshots keep meeting new campaigns).
func TestTwoInstancesLockFirst(t *testing.T) {
	dsn := freshSchema(t, pgDSN(t))
	a, b := open(t, dsn), open(t, dsn)
	a.LockFirst()
	b.LockFirst()
	storetest.TwoInstances(t, a, b)
	if again, locked := a.CommitRetries(); again != 0 || locked == 0 {
		t.Errorf("%d snapshot commits, %d under the lock: the lock-first path was not taken", again, locked)
	}
}

func pgDSN(t testing.TB) string {
	dsn := os.Getenv("ACCORD_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
			t.Fatal("ACCORD_POSTGRES_DSN not set, but the test command requires PostgreSQL")
		}
		t.Skip("ACCORD_POSTGRES_DSN not set (test.sh starts a PostgreSQL and sets it)")
	}
	return dsn
}

// freshSchema creates a schema for one test, dropped after it, and
// returns a DSN using it.
func freshSchema(t testing.TB, dsn string) string {
	schema := fmt.Sprintf("t%d_%d", os.Getpid(), schemaSeq.Add(1))
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a, _ := sql.Open("pgx", dsn)
		a.Exec("DROP SCHEMA " + schema + " CASCADE")
		a.Close()
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

func open(t testing.TB, dsn string) *sqlstore.Store {
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestMessagesAtRest: a raw upload's bytes are stored once.
func TestMessagesAtRest(t *testing.T) {
	s := open(t, freshSchema(t, pgDSN(t)))
	storetest.MessagesAtRest(t, s, s.DB(), rebind)
}

// TestMigrateMessagesOnce: migration 27 converts the complaints stored
// before without losing a byte.
func TestMigrateMessagesOnce(t *testing.T) {
	cfg, err := pgx.ParseConfig(freshSchema(t, pgDSN(t)))
	if err != nil {
		t.Fatal(err)
	}
	db, err := connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := sqlstore.OpenAt(context.Background(), db, sqlstore.Postgres, 26); err != nil {
		t.Fatal(err)
	}
	storetest.MigrateMessagesOnce(t, db, rebind, func() storetest.Store {
		s, err := sqlstore.Open(context.Background(), db, sqlstore.Postgres)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestMigrateRegroups: migration 32 regroups a database grouped by the
// old rule.
func TestMigrateRegroups(t *testing.T) {
	cfg, err := pgx.ParseConfig(freshSchema(t, pgDSN(t)))
	if err != nil {
		t.Fatal(err)
	}
	db, err := connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	old, err := sqlstore.OpenAt(context.Background(), db, sqlstore.Postgres, 31)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MigrateRegroups(t, db, old, rebind, func() storetest.Store {
		s, err := sqlstore.Open(context.Background(), db, sqlstore.Postgres)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestMergedCampaignsForgotten: retention reaches merged campaigns' rows.
func TestMergedCampaignsForgotten(t *testing.T) {
	cfg, err := pgx.ParseConfig(freshSchema(t, pgDSN(t)))
	if err != nil {
		t.Fatal(err)
	}
	db, err := connect(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := sqlstore.Open(context.Background(), db, sqlstore.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MergedCampaignsForgotten(t, db, s, rebind)
}

// rebind numbers "?" placeholders for PostgreSQL.
func rebind(q string) string {
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// BenchmarkBridgeMerge: a bridge between a campaign of 2,000 reports and
// an older singleton (attack finding F2; storetest.BridgeMerges). The
// bytes written are the server's write-ahead log (the whole server's:
// run it on a server of its own).
func BenchmarkBridgeMerge(b *testing.B) {
	dsn := freshSchema(b, pgDSN(b))
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	wal := func() int64 {
		var n int64
		if err := db.QueryRow(`SELECT CAST(pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') AS BIGINT)`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	storetest.BridgeMerges(b, open(b, dsn), 2000, wal)
}

// BenchmarkLinks: 1,000 opt-out links in one request
// (storetest.LinksBatch).
func BenchmarkLinks(b *testing.B) {
	storetest.LinksBatch(b, open(b, freshSchema(b, pgDSN(b))))
}
