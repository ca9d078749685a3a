package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/accord-antispam/accord/internal/store/sqlstore"
	"github.com/accord-antispam/accord/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "accord.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestTwoInstances: two stores on one database file commit at once; one
// campaign per spam run, one custody chain.
func TestTwoInstances(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accord.db")
	var stores []*sqlstore.Store
	for range 2 {
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	storetest.TwoInstances(t, stores[0], stores[1])
}

func TestReopenKeepsSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accord.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(context.Background()); err != nil || v != sqlstore.LatestVersion() {
		t.Errorf("schema version %d %v", v, err)
	}
}

// TestMessagesAtRest: a raw upload's bytes are stored once.
func TestMessagesAtRest(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	storetest.MessagesAtRest(t, s, s.DB(), func(q string) string { return q })
}

// TestMigrateMessagesOnce: migration 27 converts the complaints stored
// before without losing a byte.
func TestMigrateMessagesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accord.db")
	db, err := openDB(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := sqlstore.OpenAt(context.Background(), db, sqlstore.SQLite, 26); err != nil {
		t.Fatal(err)
	}
	storetest.MigrateMessagesOnce(t, db, func(q string) string { return q }, func() storetest.Store {
		s, err := sqlstore.Open(context.Background(), db, sqlstore.SQLite)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
