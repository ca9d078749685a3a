package classify

import (
	"bytes"
	"math/rand"
	"testing"
	"time"
)

// learnAll learns messages the documented way (LearnMessage, as
// `accord learn` does), then rebuilds.
func learnAll(t *testing.T, msgs [][]byte, spam []bool) *Model {
	t.Helper()
	m := New(Params{Bits: 16})
	at := time.Unix(1700000000, 0)
	for i, raw := range msgs {
		msg := parse(raw)
		m.LearnMessageAt(Digest(raw), m.Extract(msg, false), spam[i], at.Add(time.Duration(i)*time.Second))
	}
	if err := m.Rebuild(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBulkLearningIgnoresOrder: spam folder then ham folder, and ham then
// spam, give the same model and so the same decisions; without the
// rebuild they do not (the test would fail on the online learner alone).
func TestBulkLearningIgnoresOrder(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	var spamMsgs, hamMsgs [][]byte
	for i := 0; i < 60; i++ {
		spamMsgs = append(spamMsgs, synth(r, true, i))
		hamMsgs = append(hamMsgs, synth(r, false, 1000+i))
	}
	cat := func(a, b [][]byte, aSpam bool) ([][]byte, []bool) {
		var ms [][]byte
		var ls []bool
		for _, x := range a {
			ms, ls = append(ms, x), append(ls, aSpam)
		}
		for _, x := range b {
			ms, ls = append(ms, x), append(ls, !aSpam)
		}
		return ms, ls
	}
	ms1, ls1 := cat(spamMsgs, hamMsgs, true)
	ms2, ls2 := cat(hamMsgs, spamMsgs, false)
	m1 := learnAll(t, ms1, ls1)
	m2 := learnAll(t, ms2, ls2)
	var b1, b2 bytes.Buffer
	m1.WriteTo(&b1)
	m2.WriteTo(&b2)
	// The kept records carry the learning time, which differs between the
	// two runs; the tables must not.
	if !bytes.Equal(tables(m1), tables(m2)) || m1.bias != m2.bias || m1.nbW != m2.nbW {
		t.Fatal("spam-then-ham and ham-then-spam built different models")
	}
	for i := 0; i < 40; i++ {
		raw := synth(r, i%2 == 0, 5000+i)
		a := m1.Score(m1.Extract(parse(raw), false), false)
		b := m2.Score(m2.Extract(parse(raw), false), false)
		if a.Score != b.Score || a.Class != b.Class {
			t.Fatalf("message %d: %+v vs %+v", i, a, b)
		}
	}
}

func tables(m *Model) []byte {
	var b bytes.Buffer
	for _, s := range m.t {
		b.WriteByte(byte(s.c))
		b.WriteByte(byte(s.c >> 8))
		b.WriteByte(byte(s.c >> 16))
		b.WriteByte(byte(s.c >> 24))
		w := int32(s.w * 1e6)
		b.WriteByte(byte(w))
		b.WriteByte(byte(w >> 8))
	}
	return b.Bytes()
}

func TestKeptSurvivesSaveAndForget(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	var msgs [][]byte
	var labels []bool
	for i := 0; i < 40; i++ {
		msgs, labels = append(msgs, synth(r, i%2 == 0, i)), append(labels, i%2 == 0)
	}
	m := learnAll(t, msgs, labels)
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	m2, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if m2.Kept() != 40 {
		t.Fatalf("kept %d after reading, want 40", m2.Kept())
	}
	if err := m2.Rebuild(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tables(m), tables(m2)) {
		t.Fatal("a rebuild of the read model differs from the saved one")
	}
	// Forget the first half (learned earliest): the model now equals one
	// learned from the second half alone.
	if n := m2.Forget(time.Unix(1700000000+20, 0)); n != 20 {
		t.Fatalf("forgot %d, want 20", n)
	}
	if err := m2.Rebuild(); err != nil {
		t.Fatal(err)
	}
	m3 := learnAll(t, msgs[20:], labels[20:])
	if !bytes.Equal(tables(m2), tables(m3)) {
		t.Fatal("after forgetting, the model still carries what the forgotten messages taught")
	}
	if s, h := m2.Trained(); s+h != 20 {
		t.Fatalf("trained %d+%d after forgetting, want 20", s, h)
	}
}

func TestRebuildRefusesUnkept(t *testing.T) {
	m := trained(t, 20) // Learn keeps nothing
	if err := m.Rebuild(); err != ErrUnkept {
		t.Fatalf("Rebuild = %v, want ErrUnkept", err)
	}
}

func TestSampleEncoding(t *testing.T) {
	m := New(Params{Bits: 16})
	raw := synth(rand.New(rand.NewSource(3)), true, 1)
	s := m.Sample(Digest(raw), m.Extract(parse(raw), false), true, time.Unix(1700000000, 0))
	b, _ := s.MarshalBinary()
	var got Sample
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got.Digest != s.Digest || !got.Spam || !got.At.Equal(s.At) || len(got.feats) != len(s.feats) {
		t.Fatalf("round trip: %+v", got)
	}
	for cut := 0; cut < len(b); cut++ {
		var x Sample
		if x.UnmarshalBinary(b[:cut]) == nil && cut < len(b) {
			t.Fatalf("a record cut at %d of %d decoded", cut, len(b))
		}
	}
}

func FuzzSample(f *testing.F) {
	m := New(Params{Bits: 12})
	raw := synth(rand.New(rand.NewSource(3)), true, 1)
	s := m.Sample(Digest(raw), m.Extract(parse(raw), false), true, time.Unix(1700000000, 0))
	b, _ := s.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Sample
		if s.UnmarshalBinary(b) != nil {
			return
		}
		b2, _ := s.MarshalBinary()
		var s2 Sample
		if err := s2.UnmarshalBinary(b2); err != nil {
			t.Fatalf("re-encoded sample does not decode: %v", err)
		}
	})
}
