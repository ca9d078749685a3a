package classify

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"
)

// vocab is a class's words: many, as real mail has.
func vocab(prefix string) []string {
	var w []string
	for i := 0; i < 150; i++ {
		w = append(w, fmt.Sprintf("%s%c%c", prefix, 'a'+i%26, 'a'+i/26))
	}
	return w
}

var spamVocab, hamVocab = vocab("offer"), vocab("patch")

// wordMail is a message of n words drawn from one class's vocabulary,
// with that class's sender and subject.
func wordMail(r *rand.Rand, spam bool, i, n int) []byte {
	words, from, subj := hamVocab, "colleague@example.org", "review"
	if spam {
		words, from, subj = spamVocab, "promo@deals.example", "winner"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nSubject: %s %d\r\nMessage-ID: <%d@x>\r\n\r\n", from, subj, i, i)
	for j := 0; j < n; j++ {
		b.WriteString(words[r.Intn(len(words))] + " ")
	}
	return []byte(b.String())
}

// paddedSpam is a spam's header over a body that mixes some of the spam's
// words with many of the ham's: the "hash-buster" shape, whose words
// point strongly both ways.
func paddedSpam(r *rand.Rand, i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: promo@deals.example\r\nSubject: winner %d\r\nMessage-ID: <%d@x>\r\n\r\n", i, i)
	for j := 0; j < 30; j++ {
		b.WriteString(spamVocab[r.Intn(len(spamVocab))] + " ")
	}
	for j := 0; j < 400; j++ {
		b.WriteString(hamVocab[r.Intn(len(hamVocab))] + " ")
	}
	return []byte(b.String())
}

// TestHeaderWitness: the count learner's header witness speaks for a
// message whose words point strongly both ways (its whole-message witness
// says 0.5), from the header's words, and stays all but silent for a
// message the whole witness is sure of. It fails when the header's
// features are not told apart (nHead) or the witness is not weighed by
// the whole's doubt.
func TestHeaderWitness(t *testing.T) {
	m := New(Params{Bits: 18})
	r := rand.New(rand.NewSource(11))
	for i := 0; i < 400; i++ {
		spam := i%2 == 0
		m.Learn(m.Extract(parse(wordMail(r, spam, i, 60)), false), spam)
	}
	padded := m.Extract(parse(paddedSpam(r, 100001)), false) // a Message-ID not learned
	if padded.f.nHead == 0 || padded.f.nHead >= padded.Len() {
		t.Fatalf("header features %d of %d", padded.f.nHead, padded.Len())
	}
	_, nb, nbh := m.logits(padded.f, nil)
	if nb < -0.5 || nb > 0.5 {
		t.Fatalf("the whole message's witness is not undecided on the padded spam: %.2f", nb)
	}
	if nbh < 3 {
		t.Errorf("the header's witness on the padded spam: %.2f, want it to speak for spam (> 3)", nbh)
	}
	plain := m.Extract(parse(wordMail(r, false, 5000, 60)), false)
	_, nb, nbh = m.logits(plain.f, nil)
	if nb > -3 || nbh < -0.05 || nbh > 0.05 {
		t.Errorf("ordinary ham: whole witness %.2f (want sure, < -3), header witness %.3f (want all but silent)", nb, nbh)
	}
}

// TestHeaderWitnessSurvivesRebuildAndSave: the header's features are kept
// with each learned message, so a model rebuilt from its kept messages
// hears the header as the one that learned them did; the witness's weight
// is saved (file version 3). A version 2 file, which had neither, reads
// with the weight 0: its model decides as before.
func TestHeaderWitnessSurvivesRebuildAndSave(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	var msgs [][]byte
	var spam []bool
	for i := 0; i < 300; i++ {
		s := i%2 == 0
		raw := wordMail(r, s, i, 60)
		if s && i%6 == 0 {
			raw = paddedSpam(r, i)
		}
		msgs, spam = append(msgs, raw), append(spam, s)
	}
	m := learnAll(t, msgs, spam)
	t.Logf("header witness weight %.3f, whole %.3f", m.nbWH, m.nbW)
	if m.nbWH <= 0 {
		t.Fatalf("the header witness's weight after learning: %v", m.nbWH)
	}
	for _, s := range m.kept {
		if s.nHead == 0 {
			t.Fatal("a kept message lost its header features")
		}
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if back.nbWH != m.nbWH {
		t.Errorf("weight after reload %v, want %v", back.nbWH, m.nbWH)
	}
	probe := paddedSpam(r, 9999)
	if a, b := m.Score(m.Extract(parse(probe), false), false), back.Score(back.Extract(parse(probe), false), false); a.Score != b.Score {
		t.Errorf("scores differ after reload: %v vs %v", a.Score, b.Score)
	}

	// The same model as a version 2 file: no weight after the header,
	// and kept records without their header runs.
	old := New(Params{Bits: 16})
	old.nSpam, old.nHam, old.bias, old.nbW = m.nSpam, m.nHam, m.bias, m.nbW
	copy(old.t, m.t)
	old.seen = m.seen
	var v2 bytes.Buffer
	h := header{Version: 2, Bits: uint32(old.p.Bits), Window: uint32(old.p.Window), MinTrained: uint32(old.p.MinTrained),
		HamBelow: old.p.HamBelow, SpamFrom: old.p.SpamFrom, Rate: old.p.Rate, Thick: old.p.Thick,
		NSpam: old.nSpam, NHam: old.nHam, Bias: old.bias, NBWeight: old.nbW,
		SeenBits: uint32(old.seen.bits), SeenCount: uint32(old.seen.n)}
	v2.WriteString(fileMagic)
	binary.Write(&v2, binary.LittleEndian, h)
	old.kept = map[uint64]Sample{}
	old.unkept = old.nSpam + old.nHam
	body := &bytes.Buffer{}
	bw := bufio.NewWriter(body)
	writeTables(bw, old)
	writeKept(bw, old)
	bw.Flush()
	v2.Write(body.Bytes())
	binary.Write(&v2, binary.LittleEndian, crcV2(old, h))
	got, err := Read(bytes.NewReader(v2.Bytes()))
	if err != nil {
		t.Fatalf("a version 2 file does not read: %v", err)
	}
	if got.nbWH != 0 {
		t.Errorf("a version 2 model's header witness weight: %v, want 0", got.nbWH)
	}
}

// TestSampleHeaderRun: a kept message's header run round-trips, and a
// record from before the header run (class byte without bit 1) decodes
// with none; records that claim more header features than features, or
// unknown class bits, are refused.
func TestSampleHeaderRun(t *testing.T) {
	m := New(Params{Bits: 16})
	raw := synth(rand.New(rand.NewSource(3)), true, 1)
	f := m.Extract(parse(raw), false)
	s := m.Sample(Digest(raw), f, true, time.Unix(1700000000, 0))
	if s.nHead != f.f.nHead || s.nHead == 0 {
		t.Fatalf("sample header run %d, features say %d", s.nHead, f.f.nHead)
	}
	b, _ := s.MarshalBinary()
	var got Sample
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got.nHead != s.nHead || !slices.Equal(got.feats, s.feats) || !bytes.Equal(got.tags, s.tags) {
		t.Fatalf("round trip: header %d want %d", got.nHead, s.nHead)
	}
	rf := got.featureSet()
	if rf.nHead != s.nHead {
		t.Errorf("rebuilt feature set's header run %d, want %d", rf.nHead, s.nHead)
	}

	// An old record: the same features in one sorted run.
	oldS := Sample{Digest: s.Digest, Spam: s.Spam, At: s.At}
	idx := make([]int, len(s.feats))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if s.feats[a] != s.feats[b] {
			return int(s.feats[a]) - int(s.feats[b])
		}
		return int(s.tags[a]) - int(s.tags[b])
	})
	for _, i := range idx {
		oldS.feats, oldS.tags = append(oldS.feats, s.feats[i]), append(oldS.tags, s.tags[i])
	}
	oldB, _ := oldS.MarshalBinary()
	if oldB[8] != 1 {
		t.Fatalf("class byte of a record without a header run: %d", oldB[8])
	}
	var o Sample
	if err := o.UnmarshalBinary(oldB); err != nil || o.nHead != 0 || len(o.feats) != len(s.feats) {
		t.Fatalf("old record: %v, header %d", err, o.nHead)
	}

	bad := append([]byte(nil), b...)
	bad[8] |= 4
	if (&Sample{}).UnmarshalBinary(bad) == nil {
		t.Error("unknown class bits accepted")
	}
	// The header count is the varint after the feature count: claim one
	// more than there are features.
	i := 9
	_, k := binary.Varint(b[i:])
	i += k
	n, k := binary.Uvarint(b[i:])
	i += k
	_, k = binary.Uvarint(b[i:]) // the header count itself
	over := append(append(append([]byte(nil), b[:i]...), binary.AppendUvarint(nil, n+1)...), b[i+k:]...)
	if (&Sample{}).UnmarshalBinary(over) == nil {
		t.Error("a header run longer than the features accepted")
	}
}
