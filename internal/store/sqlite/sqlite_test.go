package sqlite

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/trace/geo"

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

// TestTwoInstancesMerging: two stores on one database file merge
// campaigns at once; one campaign per run, one custody chain.
func TestTwoInstancesMerging(t *testing.T) {
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
	storetest.TwoInstancesMerging(t, stores[0], stores[1])
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

// TestErasedBytesLeaveTheFile: what an erasure or a purge deleted cannot
// be read back from the database file or its write-ahead log (a backup,
// a snapshot, a disk taken away): SQLite zeroes freed content and the
// desk truncates the log after deleting.
func TestErasedBytesLeaveTheFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "accord.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var autoVacuum, secureDelete int
	if err := s.DB().QueryRow(`PRAGMA auto_vacuum`).Scan(&autoVacuum); err != nil || autoVacuum != 2 {
		t.Errorf("a new database file has auto_vacuum %d (want 2, incremental): %v", autoVacuum, err)
	}
	if err := s.DB().QueryRow(`PRAGMA secure_delete`).Scan(&secureDelete); err != nil || secureDelete != 1 {
		t.Errorf("secure_delete %d: %v", secureDelete, err)
	}
	onDisk := func(marker string) bool {
		t.Helper()
		for _, f := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(f)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(marker)) {
				return true
			}
		}
		return false
	}
	lib, _ := rules.Embedded()
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	d, err := intake.New(s, &analysis.Analyzer{Rules: lib, Geo: geo.Embedded()}, intake.Options{Secret: []byte("0123456789abcdef0123456789abcdef"), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	// Large enough for overflow pages, as a real forward is.
	pad := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", 200)
	fwd := func(from, body, spam string) []byte {
		return []byte("From: " + from + "\r\nTo: report@desk.example\r\nSubject: Fwd: spam\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\n" + body + "\r\n" + pad + "\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n" +
			"From: Deals <deals@offers.example.biz>\r\nTo: " + from + "\r\nSubject: You won " + spam + "\r\nDate: Tue, 3 Nov 2026 09:00:00 +0000\r\nMessage-ID: <" + spam + "@offers.example.biz>\r\n\r\n" +
			"Claim the prize " + spam + " at http://offers.example.biz/claim today.\r\n" + pad + "\r\n--b--\r\n")
	}
	rec, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: fwd("erin.secret@reporter.example", "ERINBODY5521", "SPAMBETA4412"), Reporter: "erin.secret@reporter.example", SubmittedBy: "smtp"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: fwd("bob@reporter.example", "BOBBODY7788", "SPAMGAMMA9903"), Reporter: "bob@reporter.example", SubmittedBy: "smtp"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"ERINBODY5521", "erin.secret@reporter.example", "SPAMBETA4412", "BOBBODY7788", "SPAMGAMMA9903"} {
		if !onDisk(m) {
			t.Fatalf("%s is not in the files before any deletion: the test cannot see what it looks for", m)
		}
	}
	r := rec.Reports[0]
	if _, err := d.Erase(ctx, r.ID, r.StatusToken); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"ERINBODY5521", "erin.secret@reporter.example", "SPAMBETA4412"} {
		if onDisk(m) {
			t.Errorf("%s, erased, can still be read from the database files", m)
		}
	}
	if !onDisk("BOBBODY7788") {
		t.Errorf("another reporter's complaint went with the erasure")
	}
	now = now.Add(800 * 24 * time.Hour)
	if _, err := d.Purge(ctx, intake.Retention{Identity: 90 * 24 * time.Hour, Evidence: 730 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"BOBBODY7788", "bob@reporter.example", "SPAMGAMMA9903"} {
		if onDisk(m) {
			t.Errorf("%s, purged by retention, can still be read from the database files", m)
		}
	}
}

// TestMigrateRegroups: migration 32 regroups a database grouped by the
// old rule.
func TestMigrateRegroups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accord.db")
	db, err := openDB(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	old, err := sqlstore.OpenAt(context.Background(), db, sqlstore.SQLite, 31)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MigrateRegroups(t, db, old, func(q string) string { return q }, func() storetest.Store {
		s, err := sqlstore.Open(context.Background(), db, sqlstore.SQLite)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestMergedCampaignsForgotten: retention reaches merged campaigns' rows.
func TestMergedCampaignsForgotten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accord.db")
	db, err := openDB(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := sqlstore.Open(context.Background(), db, sqlstore.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MergedCampaignsForgotten(t, db, s, func(q string) string { return q })
}
