package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/accord-antispam/accord/internal/store/storetest"
)

var schemaSeq atomic.Int64

// TestConformance runs the shared suite against a real PostgreSQL, which
// the test command (test.sh) installs and starts, and names in
// ACCORD_POSTGRES_DSN. Each test gets its own schema.
func TestConformance(t *testing.T) {
	dsn := os.Getenv("ACCORD_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
			t.Fatal("ACCORD_POSTGRES_DSN not set, but the test command requires PostgreSQL")
		}
		t.Skip("ACCORD_POSTGRES_DSN not set (test.sh starts a PostgreSQL and sets it)")
	}
	storetest.Run(t, func(t *testing.T) storetest.Store {
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
		s, err := Open(context.Background(), dsn+sep+"search_path="+schema)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
