package web_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/web"
)

// TestRefusalsDoNotFloodTheAuditLog: 500 throttled sign-ins in 2 s wrote
// 500 audit rows. Refusals (throttled sign-ins, invalid tokens) are written
// a few times a minute per client, and invalid tokens are written at all.
// The clock is frozen: nothing refills during the test.
func TestRefusalsDoNotFloodTheAuditLog(t *testing.T) {
	frozen := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	n := start(t, web.Config{Now: func() time.Time { return frozen },
		Limits: &web.Limits{LoginPerUser: 1, LoginPerIP: 1, FormPerIP: 100, APIPerToken: 100, APIPerIP: 100}})
	c := browser(t)
	csrf := string(csrfRe.FindSubmatch(get(t, c, n.url+"/login").body)[1])
	throttled := 0
	for i := 0; i < 40; i++ {
		if postForm(t, c, n.url+"/login", "", map[string]string{"csrf": csrf, "user": "ana", "password": "guess"}, nil).status == 429 {
			throttled++
		}
	}
	for i := 0; i < 20; i++ {
		do(t, "GET", n.url+"/api/v1/campaigns", "acc_forged_token", "", nil)
	}
	ev, err := n.store.AuditLog(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range ev {
		count[e.Action]++
	}
	if throttled < 39 || count[access.AuditSignInThrottled] == 0 || count[access.AuditSignInThrottled]+count[access.AuditTokenRefused] > 5 {
		t.Errorf("%d throttled sign-ins, audit rows %v: want a few, not one per refusal", throttled, count)
	}
	// A long user name is kept bounded.
	frozen = frozen.Add(time.Hour)
	postForm(t, c, n.url+"/login", "", map[string]string{"csrf": csrf, "user": strings.Repeat("x", 5000), "password": "guess"}, nil)
	do(t, "GET", n.url+"/api/v1/campaigns", "acc_forged_token", "", nil)
	ev, _ = n.store.AuditLog(context.Background(), 0, 1000)
	refused := 0
	for _, e := range ev {
		if len(e.Target) > 300 {
			t.Errorf("an audit target of %d bytes", len(e.Target))
		}
		if e.Action == access.AuditTokenRefused {
			refused++
		}
	}
	if refused == 0 {
		t.Error("the use of an invalid token is not in the audit log")
	}
	// A revoked token is named by its id: the operator sees which
	// integration still sends with it.
	frozen = frozen.Add(time.Hour)
	plain, tok := access.NewToken(nil, access.Analyst, "old integration", time.Now())
	if err := n.store.CreateToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if err := n.store.RevokeToken(context.Background(), tok.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if r := do(t, "GET", n.url+"/api/v1/campaigns", plain, "", nil); r.status != 401 {
		t.Fatalf("a revoked token: %d", r.status)
	}
	ev, _ = n.store.AuditLog(context.Background(), 0, 1000)
	named := false
	for _, e := range ev {
		named = named || e.Action == access.AuditTokenRefused && e.Target == "token:"+tok.ID
	}
	if !named {
		t.Errorf("the refusal of revoked token %s does not name it", tok.ID)
	}
}

// TestPublicPagesCountTheClientBehindTheBalancer: the recipients' pages
// (/u/, /c/) were limited by the connection's address, so behind a load
// balancer every recipient shared one bucket; with the balancer trusted,
// each client's X-Forwarded-For address has its own.
func TestPublicPagesCountTheClientBehindTheBalancer(t *testing.T) {
	n := startSenders(t, 3, netip.MustParsePrefix("127.0.0.1/32"))
	get := func(client string) int {
		req, _ := http.NewRequest("GET", n.url+"/u/not-a-token", nil)
		req.Header.Set("X-Forwarded-For", client)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for i := 0; i < 3; i++ {
		if c := get("198.51.100.1"); c == 429 {
			t.Fatalf("request %d of the first client: 429", i)
		}
	}
	if c := get("198.51.100.1"); c != 429 {
		t.Fatalf("fourth request of the first client: %d, want 429", c)
	}
	if c := get("198.51.100.2"); c == 429 {
		t.Fatal("another client behind the balancer shares the first one's bucket")
	}
}
