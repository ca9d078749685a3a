package filter

import (
	"bytes"
	"context"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/mail"
)

// TestTwoInstancesShareOneModel: two filter instances on one store. What
// one learns, the other scores with within a sync interval; after a
// rebuild both hold the same model; learning concurrently on both loses
// nothing.
func TestTwoInstancesShareOneModel(t *testing.T) {
	st := NewMemStore()
	a, _ := newService(t, Deps{Store: st}, Config{})
	b, _ := newService(t, Deps{Store: st}, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const every = 50 * time.Millisecond
	var wg sync.WaitGroup
	for _, s := range []*Service{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx, every, time.Hour, nil) }()
	}
	// Both instances learn at once, from different clients.
	r := rand.New(rand.NewSource(5))
	spamW := []string{"viagra", "cheap", "pills", "winner", "casino", "offer"}
	hamW := []string{"meeting", "patch", "review", "kernel", "agenda", "lunch"}
	mk := func(spam bool, i int) []byte {
		w := hamW
		if spam {
			w = spamW
		}
		var sb strings.Builder
		for j := 0; j < 30; j++ {
			sb.WriteString(w[r.Intn(len(w))] + " ")
		}
		return msg("s@x.example", w[0], sb.String()+strings.Repeat("x", i%7))
	}
	var msgs [][]byte
	for i := 0; i < 60; i++ {
		msgs = append(msgs, mk(i%2 == 0, i))
	}
	var lw sync.WaitGroup
	for k, s := range []*Service{a, b} {
		lw.Add(1)
		go func() {
			defer lw.Done()
			for i := k; i < len(msgs); i += 2 {
				if _, err := s.Learn(context.Background(), msgs[i], i%2 == 0, "test"); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	lw.Wait()
	// Within a few sync intervals, each has learned all 60.
	start := time.Now()
	for {
		sa, ha := a.Model().Trained()
		sb, hb := b.Model().Trained()
		if sa+ha == 60 && sb+hb == 60 {
			break
		}
		if time.Since(start) > 40*every {
			t.Fatalf("after %v: a learned %d, b %d of 60", time.Since(start), sa+ha, sb+hb)
		}
		time.Sleep(every / 5)
	}
	t.Logf("both instances had every learned message %v after the last one was stored (sync every %v)", time.Since(start).Round(time.Millisecond), every)
	// A message only a learned: b scores it the new way within the bound.
	probe := mk(true, 999)
	pm := mail.ParseBytes(probe, mail.Limits{})
	before := b.Model().Score(b.Model().Extract(pm, false), false).Score
	t0 := time.Now()
	if _, err := a.Learn(context.Background(), probe, false, "test"); err != nil { // "ham", against its look
		t.Fatal(err)
	}
	for b.Model().Score(b.Model().Extract(pm, false), false).Score == before {
		if time.Since(t0) > 40*every {
			t.Fatal("instance b never saw what a learned")
		}
		time.Sleep(every / 10)
	}
	t.Logf("b scored with what a learned %v later", time.Since(t0).Round(time.Millisecond))
	// Rebuilt from the store, both models are the same.
	a.SyncModel(context.Background(), true)
	b.SyncModel(context.Background(), true)
	var ba, bb bytes.Buffer
	a.Model().WriteScoring(&ba)
	b.Model().WriteScoring(&bb)
	if !bytes.Equal(ba.Bytes(), bb.Bytes()) {
		t.Error("after a rebuild the two instances hold different models")
	}
	// A third instance starts from the snapshot.
	c, _ := newService(t, Deps{Store: st}, Config{})
	if err := c.StartModel(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if s, h := c.Model().Trained(); s+h != 61 {
		t.Errorf("a new instance starts with %d learned, want 61", s+h)
	}
	cancel()
	wg.Wait()
}
