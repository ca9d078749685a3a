package web_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/web"
)

// queueOut answers as the node's outbound queue does: queued, not yet
// delivered.
type queueOut struct {
	mu  sync.Mutex
	ids []string
}

func (q *queueOut) Deliver(_ context.Context, id, _ string, _ []string, _ []byte) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ids = append(q.ids, id)
	return true, nil
}

// TestReleaseAPIQueued: releasing over the API answers the state the
// message is really in — queued while it waits for the relay — and
// released once the queue reports delivery.
func TestReleaseAPIQueued(t *testing.T) {
	ctx := context.Background()
	lib, _ := rules.Embedded()
	out := &queueOut{}
	f, err := filter.New(ctx, filter.Config{}, filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}},
		Store: filter.NewMemStore(), Outbound: out, Secret: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	n := start(t, web.Config{Filter: f})
	admin := n.token(t, access.Admin)
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeDefault, Action: ptrs(filter.ActionQuarantine)}, "t")
	dec, _ := f.Check(ctx, []byte("From: a@b.example\r\nSubject: held\r\n\r\n"+filter.GTUBE+"\r\n"), filter.Envelope{Rcpts: []string{"bob@example.org"}})
	ids, err := f.Quarantine(ctx, dec, []string{"bob@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	r := do(t, "POST", n.url+"/api/v1/filter/quarantine/"+ids[0]+"/release", admin, "", nil)
	var got struct{ ID, State string }
	json.Unmarshal(r.body, &got)
	if r.status != 200 || got.State != filter.StateQueued || len(out.ids) != 1 || out.ids[0] != ids[0] {
		t.Fatalf("release: %d %s (queued %v)", r.status, r.body, out.ids)
	}
	f.ReleaseDone(ctx, ids[0], true, "")
	r = do(t, "GET", n.url+"/api/v1/filter/quarantine/"+ids[0], admin, "", nil)
	var h filter.Held
	json.Unmarshal(r.body, &h)
	if r.status != 200 || h.State != filter.StateReleased {
		t.Errorf("after delivery: %d %s", r.status, h.State)
	}
}
