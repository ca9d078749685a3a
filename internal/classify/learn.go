package classify

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// seenBits sizes the table of learned-message digests (1 MiB): enough to
// recognise the last few hundred thousand messages a user corrects.
const seenBits = 17

// digestSet remembers which messages were learned, and as what, in a fixed
// open-addressing table: a 62-bit digest, an occupied bit and a class bit
// per slot. When it
// is three-quarters full it forgets everything and starts again, so its
// size never grows.
type digestSet struct {
	slots []uint64
	bits  uint
	n     int
}

func newDigestSet(bits uint) *digestSet {
	return &digestSet{slots: make([]uint64, 1<<bits), bits: bits}
}

// Digest identifies a message by its bytes.
func Digest(raw []byte) uint64 {
	s := sha256.Sum256(raw)
	return binary.LittleEndian.Uint64(s[:8])
}

func (d *digestSet) slot(dg uint64) (int, bool) {
	mask := len(d.slots) - 1
	key := dg &^ 3
	i := int(dg>>2) & mask
	for {
		v := d.slots[i]
		if v == 0 {
			return i, false
		}
		if v&^3 == key {
			return i, true
		}
		i = (i + 1) & mask
	}
}

// get reports whether the digest was learned and as spam.
func (d *digestSet) get(dg uint64) (known, spam bool) {
	i, ok := d.slot(dg)
	if !ok {
		return false, false
	}
	return true, d.slots[i]&1 == 1
}

func (d *digestSet) put(dg uint64, spam bool) {
	if d.n >= len(d.slots)*3/4 {
		clear(d.slots)
		d.n = 0
	}
	i, ok := d.slot(dg)
	if !ok {
		d.n++
	}
	v := dg&^3 | 2 // bit 1: occupied, so a slot is never 0
	if spam {
		v |= 1
	}
	d.slots[i] = v
}

// Outcome says what LearnMessage did.
type Outcome int

const (
	Learned   Outcome = iota // New message, learned.
	Known                    // Already learned as this class; nothing done.
	Corrected                // Learned earlier as the other class; unlearned, then learned.
)

// LearnMessage learns a message identified by digest, correcting an
// earlier opposite decision and skipping a repeat. The model keeps the
// message's features (not its text) for Rebuild.
func (m *Model) LearnMessage(digest uint64, f Features, spam bool) Outcome {
	return m.LearnMessageAt(digest, f, spam, time.Now())
}

// LearnMessageAt is LearnMessage with the time of learning given, which
// the kept record carries for retention.
func (m *Model) LearnMessageAt(digest uint64, f Features, spam bool, at time.Time) Outcome {
	return m.learnKept(sampleOf(digest, f.f, spam, at), f.f)
}

// LearnSample learns a kept record, as another filter instance stored it
// in a shared store: the same as LearnMessage on the message it came from.
// A record that does not fit the model's table size is ignored (Known).
func (m *Model) LearnSample(s Sample) Outcome {
	if !s.fits(m.p.Bits) {
		return Known
	}
	return m.learnKept(s, s.featureSet())
}

func (m *Model) learnKept(smp Sample, f *featureSet) Outcome {
	m.mu.Lock()
	defer m.mu.Unlock()
	digest, spam := smp.Digest, smp.Spam
	known, was := m.seen.get(digest)
	if k, ok := m.kept[digest]; ok {
		known, was = true, k.Spam // the digest table may have been cleared
	}
	if !(known && was == spam) {
		m.keep(smp)
	}
	switch {
	case known && was == spam:
		return Known
	case known:
		lr, nb, nbh := m.logits(f, nil)
		m.learn(f, lr, nb, nbh, was, -1)
		lr, nb, nbh = m.logits(f, nil)
		m.learn(f, lr, nb, nbh, spam, 1)
		m.seen.put(digest, spam)
		return Corrected
	}
	lr, nb, nbh := m.logits(f, nil)
	m.learn(f, lr, nb, nbh, spam, 1)
	m.seen.put(digest, spam)
	return Learned
}
