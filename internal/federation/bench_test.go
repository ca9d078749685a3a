package federation

import (
	"fmt"
	"testing"
	"time"
)

func BenchmarkDecide(b *testing.B) {
	a := agreement(b, frUS)
	p := PeerState{Name: "us", Status: StatusActive}
	it := Item{Kind: KindReports, TLP: TLPAmber, Origins: []string{"US"}}
	for b.Loop() {
		if !Decide(a, p, it, now).Allow {
			b.Fatal("denied")
		}
	}
}

// BenchmarkSealOpen: one envelope signed and verified (64 KiB payload).
func BenchmarkSealOpen(b *testing.B) {
	fr, us := newKey(b), newKey(b)
	peer := &Peer{Name: "fr", Status: StatusActive, Keys: []PeerKey{{Key: fr.b64(), Status: KeyActive}}}
	v := verifier(us, []*Peer{peer}, map[string]uint64{}, now)
	payload := make([]byte, 64<<10)
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		raw, err := Seal(fr.priv, Envelope{Type: "sync", To: us.b64(), Seq: 1, Time: now}, payload)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Open(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPackage: a package of 1,000 items signed, half of it sent with
// proofs, and verified by the receiver.
func BenchmarkPackage(b *testing.B) {
	k := newKey(b)
	var all []Item
	include := map[string]bool{}
	for i := 0; i < 1000; i++ {
		body := []byte(fmt.Sprintf(`{"value":"198.51.100.%d","reports":%d}`, i%256, i))
		key := fmt.Sprintf("ind:ipv4-addr:%d", i)
		all = append(all, Item{Key: key, Kind: KindIndicators, Body: body, Hash: HashBody(body)})
		if i%2 == 0 {
			include[key] = true
		}
	}
	b.ResetTimer()
	for b.Loop() {
		pk, err := BuildPackage(k.priv, "indicators", all, include, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if err := VerifyPackage(k.pub, &pk); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "items/s")
}

// BenchmarkCheckAdmission: what the inbox spends on a request's admission
// before it reads the body (the peer lookup aside).
func BenchmarkCheckAdmission(b *testing.B) {
	fr, us := newKey(b), newKey(b)
	adm := SignAdmission(fr.priv, us.b64(), make([]byte, 64<<10), now)
	for b.Loop() {
		if _, err := CheckAdmission(adm, us.b64(), now, 10*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFirstAdmission: the single-use check of one admission while a
// peer's 20,000 recent admissions are remembered (a peer sending many
// header-only requests, each with a new body hash), the clock moving a
// millisecond each: expired ones leave from the front of a queue, not by
// scanning everything remembered.
func BenchmarkFirstAdmission(b *testing.B) {
	s := &Service{}
	at := now
	keep := 20 * time.Minute
	for i := range 20000 {
		s.firstAdmission(fmt.Sprintf("%064x", i), at, keep)
		at = at.Add(10 * time.Millisecond)
	}
	i := 20000
	for b.Loop() {
		if !s.firstAdmission(fmt.Sprintf("%064x", i), at, keep) {
			b.Fatal("a new body hash was seen before")
		}
		i++
		at = at.Add(time.Millisecond)
	}
}

// TestFirstAdmissionForgets: a body hash is refused a second time within
// keep, expired ones are forgotten in order, and a clock set back keeps
// its entry no shorter.
func TestFirstAdmissionForgets(t *testing.T) {
	s := &Service{}
	keep := 20 * time.Minute
	if !s.firstAdmission("a", now, keep) || s.firstAdmission("a", now.Add(keep), keep) {
		t.Fatal("a body hash admitted twice within keep")
	}
	if !s.firstAdmission("b", now.Add(time.Minute), keep) {
		t.Fatal("b refused")
	}
	if !s.firstAdmission("a", now.Add(keep+time.Second), keep) {
		t.Error("a not forgotten after keep")
	}
	if s.firstAdmission("b", now.Add(keep+time.Second), keep) {
		t.Error("b forgotten before keep")
	}
	if !s.firstAdmission("c", now, keep) { // clock set back
		t.Fatal("c refused")
	}
	if s.firstAdmission("c", now.Add(keep+2*time.Second), keep) {
		t.Error("c, admitted with the clock set back, forgotten before keep")
	}
	if len(s.admitted) != len(s.admOrder) {
		t.Errorf("%d remembered, %d queued", len(s.admitted), len(s.admOrder))
	}
}
