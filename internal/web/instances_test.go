package web_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/store/postgres"
	"github.com/accord-antispam/accord/internal/web"
)

// TestSignInThrottleSharedAcrossInstances: two servers on one PostgreSQL
// (two serve processes behind a load balancer) count sign-in attempts
// together — with three a minute per account, the fourth guess is refused
// (429) though it is only the second the answering server saw; a guesser
// does not get the limit once per instance.
func TestSignInThrottleSharedAcrossInstances(t *testing.T) {
	dsn := os.Getenv("ACCORD_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
			t.Fatal("ACCORD_POSTGRES_DSN not set, but the test command requires PostgreSQL")
		}
		t.Skip("ACCORD_POSTGRES_DSN not set (test.sh starts a PostgreSQL and sets it)")
	}
	schema := fmt.Sprintf("web%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	frozen := time.Now()
	var nodes []node
	for range 2 {
		st, err := postgres.Open(context.Background(), dsn+sep+"search_path="+schema)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, startOn(t, st, web.Config{Limits: &web.Limits{LoginPerUser: 3, LoginPerIP: 100, FormPerIP: 100, APIPerToken: 100, APIPerIP: 100},
			Now: func() time.Time { return frozen }}))
	}
	h, _ := access.HashPassword("a long passphrase")
	if err := nodes[0].store.CreateUser(context.Background(), access.User{Name: "ana", PasswordHash: h, Role: access.Analyst, CreatedAt: frozen}); err != nil {
		t.Fatal(err)
	}
	var status []int
	for i := range 4 {
		n := nodes[i%2]
		c := browser(t)
		csrf := string(csrfRe.FindSubmatch(get(t, c, n.url+"/login").body)[1])
		pw := "guess"
		if i == 3 {
			pw = "a long passphrase"
		}
		status = append(status, postForm(t, c, n.url+"/login", "", map[string]string{"csrf": csrf, "user": "ana", "password": pw}, nil).status)
	}
	if fmt.Sprint(status) != "[401 401 401 429]" {
		t.Fatalf("sign-ins alternating between two instances answered %v, want [401 401 401 429]", status)
	}
}
