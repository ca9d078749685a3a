package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/fbl"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/lease"
)

// leases: one holder at a time; the holder renews; another takes the
// lease only once it ran out or was given back; of many asking at once,
// one gets it.
func leases(t *testing.T, s Store) {
	ctx := context.Background()
	ttl := 15 * time.Second
	take := func(holder string, at time.Duration) bool {
		t.Helper()
		ok, err := s.TakeLease(ctx, "loop", holder, clock.Add(at), ttl)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !take("a", 0) {
		t.Fatal("a free lease was refused")
	}
	if take("b", time.Second) {
		t.Fatal("b took a lease a holds")
	}
	if !take("a", 10*time.Second) {
		t.Fatal("a could not renew its lease")
	}
	// a renewed at 10 s: held until 25 s.
	if take("b", 24*time.Second) {
		t.Fatal("b took a renewed lease before it ran out")
	}
	if !take("b", 26*time.Second) {
		t.Fatal("b could not take a lease that ran out")
	}
	if take("a", 27*time.Second) {
		t.Fatal("a took back a lease b holds")
	}
	// Giving back: only the holder can, and then anyone takes it at once.
	if err := s.DropLease(ctx, "loop", "a"); err != nil {
		t.Fatal(err)
	}
	if take("a", 28*time.Second) {
		t.Fatal("a dropped b's lease")
	}
	if err := s.DropLease(ctx, "loop", "b"); err != nil {
		t.Fatal(err)
	}
	if !take("a", 29*time.Second) {
		t.Fatal("a could not take a lease given back")
	}
	// Leases are independent of each other.
	if ok, err := s.TakeLease(ctx, "other", "b", clock.Add(29*time.Second), ttl); err != nil || !ok {
		t.Fatalf("another lease: %v %v", ok, err)
	}
	// Twenty instances asking for a free lease at once: one gets it.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []string
	for i := range 20 {
		wg.Go(func() {
			id := fmt.Sprintf("i%d", i)
			ok, err := s.TakeLease(ctx, "race", id, clock, ttl)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				got = append(got, id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != 1 {
		t.Fatalf("%d instances got one lease: %v", len(got), got)
	}
}

// feedbackTakeover: of two instances sharing the store, only the one
// holding the lease runs the feedback loop; when it dies (no more
// renewals, the lease left in the store, as after kill -9) the other
// takes over once the lease ran out and feeds back what came meanwhile,
// from the cursor the first wrote down; when one stops cleanly it gives
// the lease back and the other takes over at once.
func feedbackTakeover(t *testing.T, s Store) {
	r := newFBLRig(t, s)
	ttl := 15 * time.Second
	r.p.Lease = &lease.Holder{Store: s, Name: "feedback", ID: "one", TTL: ttl, Now: r.clk.now}
	r.p.Now = r.clk.now
	two := fbl.New()
	two.Store, two.Reports, two.Consent, two.Mailer, two.Node, two.Now = s, s, r.svc, r.mb, "test node", r.clk.now
	two.Lease = &lease.Holder{Store: s, Name: "feedback", ID: "two", TTL: ttl, Now: r.clk.now}
	r.consent(t, "bob@example.net")
	r.consent(t, "carl@example.net")
	r.consent(t, "dora@example.net")
	complaint := func(who string) string {
		t.Helper()
		msg := shopMail(t, "Shop <news@shop.example>", who, r.link(t, who).ListUnsubscribe, "Winter sale for "+who+"\r\n", r.clk.now())
		rec, err := r.d.Submit(r.ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: arfOf("fbl@isp.example", who, msg),
			Reporter: "fbl@isp.example", ReporterAuth: "spf", SubmittedBy: "smtp"})
		if err != nil {
			t.Fatal(err)
		}
		return rec.Reports[0].ID
	}
	step := func(p *fbl.Processor) bool {
		t.Helper()
		did, _, err := p.Step(r.ctx)
		if err != nil {
			t.Fatal(err)
		}
		return did
	}
	fedBack := func(id string) int {
		t.Helper()
		cs, err := s.ComplaintsByReport(r.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return len(cs)
	}
	bob := complaint("bob@example.net")
	if !step(r.p) || step(two) {
		t.Fatal("not exactly the first instance runs the loop")
	}
	if fedBack(bob) != 1 || len(r.mb.sent) != 1 {
		t.Fatalf("bob's complaint: %d recorded, %d mails", fedBack(bob), len(r.mb.sent))
	}
	// The first instance dies. Its lease holds a while: nothing is fed
	// back, and the second instance does not run the loop.
	carl := complaint("carl@example.net")
	r.clk.add(10 * time.Second)
	if step(two) || fedBack(carl) != 0 {
		t.Fatal("the second instance ran the loop while the first's lease held")
	}
	r.clk.add(6 * time.Second)
	if !step(two) {
		t.Fatal("the second instance did not take over a lease that ran out")
	}
	if fedBack(carl) != 1 || fedBack(bob) != 1 || len(r.mb.sent) != 2 {
		t.Fatalf("after the takeover: carl %d, bob %d complaints, %d mails", fedBack(carl), fedBack(bob), len(r.mb.sent))
	}
	if st, _ := r.svc.Standing(r.ctx, "shop.example"); st.Complaints != 2 {
		t.Errorf("two complaints counted %d times", st.Complaints)
	}
	// The second instance stops cleanly (Run ends): the first, back,
	// takes over at once, from where the second stopped.
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() { two.Run(ctx); close(done) }()
	cancel()
	<-done
	dora := complaint("dora@example.net")
	r.p.Lease = &lease.Holder{Store: s, Name: "feedback", ID: "one-again", TTL: ttl, Now: r.clk.now}
	if !step(r.p) {
		t.Fatal("the lease was not given back when the second instance stopped")
	}
	if fedBack(dora) != 1 || fedBack(carl) != 1 || len(r.mb.sent) != 3 {
		t.Fatalf("after a clean stop: dora %d, carl %d complaints, %d mails", fedBack(dora), fedBack(carl), len(r.mb.sent))
	}
}
