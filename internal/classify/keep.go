package classify

import (
	"cmp"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"sort"
	"time"
)

// Learning that does not depend on order.
//
// An online learner trained class by class (a spam folder, then a ham
// folder) ends up somewhere else than one trained on the same messages
// interleaved: the regression chases whichever class it saw last, and its
// scores drift far from calibrated even when their ranking is good. So a
// model keeps what it learned — each message's hashed features and its
// class, never its text — and Rebuild relearns the whole set in one
// canonical order (by message digest, which interleaves the classes at
// random but reproducibly). The model after a rebuild is a function of the
// set of learned messages alone, whatever order they came in.
//
// The kept set is bounded: past MaxKept messages the oldest are forgotten,
// and Forget drops those past their retention, so the next rebuild no
// longer carries them.

// Sample is one learned message as the model keeps it: its digest, class,
// when it was learned, and its features.
type Sample struct {
	Digest uint64
	Spam   bool
	At     time.Time
	feats  []uint32 // slot index <<1 | pair: the header's nHead sorted, then the rest sorted
	tags   []uint8  // parallel to feats
	nHead  int      // the header's features, the count learner's header witness (model.go)
}

// MaxKept bounds the learned messages a model keeps for rebuilding
// (about 2 KB each).
const MaxKept = 50000

func sampleOf(digest uint64, f *featureSet, spam bool, at time.Time) Sample {
	s := Sample{Digest: digest, Spam: spam, At: at.UTC().Truncate(time.Second)}
	// Sorted by slot, pair bit and tag: two features can share a slot.
	type ft struct {
		v   uint32
		tag uint8
	}
	fs := make([]ft, len(f.idx))
	for i, idx := range f.idx {
		v := idx << 1
		if f.pair[i] {
			v |= 1
		}
		fs[i] = ft{v, f.tag[i]}
	}
	less := func(a, b ft) int {
		if a.v != b.v {
			return cmp.Compare(a.v, b.v)
		}
		return cmp.Compare(a.tag, b.tag)
	}
	s.nHead = f.nHead
	slices.SortFunc(fs[:f.nHead], less)
	slices.SortFunc(fs[f.nHead:], less)
	s.feats = make([]uint32, len(fs))
	s.tags = make([]uint8, len(fs))
	for k, x := range fs {
		s.feats[k], s.tags[k] = x.v, x.tag
	}
	return s
}

// featureSet rebuilds the features a sample was learned with.
func (s Sample) featureSet() *featureSet {
	f := &featureSet{idx: make([]uint32, len(s.feats)), pair: make([]bool, len(s.feats)), tag: s.tags, nHead: s.nHead}
	for i, v := range s.feats {
		f.idx[i], f.pair[i] = v>>1, v&1 == 1
	}
	return f
}

// Sample returns what the model would keep of a message: its features and
// class, for a store that keeps learned messages apart from the model.
func (m *Model) Sample(digest uint64, f Features, spam bool, at time.Time) Sample {
	return sampleOf(digest, f.f, spam, at)
}

// MarshalBinary encodes a sample compactly: the slot indexes as sorted
// varint deltas (the header's run, then the rest), then the tags. Bit 1
// of the class byte says that the header's feature count follows the
// feature count; a record without it (written before the header was a
// witness of its own) decodes with no header features, so a model rebuilt
// from it decides as before until the message is learned again.
func (s Sample) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 24+3*len(s.feats))
	b = binary.LittleEndian.AppendUint64(b, s.Digest)
	cls := byte(0)
	if s.Spam {
		cls = 1
	}
	if s.nHead > 0 {
		cls |= 2
	}
	b = append(b, cls)
	b = binary.AppendVarint(b, s.At.Unix())
	b = binary.AppendUvarint(b, uint64(len(s.feats)))
	if s.nHead > 0 {
		b = binary.AppendUvarint(b, uint64(s.nHead))
	}
	prev := uint32(0)
	for i, v := range s.feats {
		if i == s.nHead {
			prev = 0 // the second run starts again
		}
		b = binary.AppendUvarint(b, uint64(v-prev))
		prev = v
	}
	return append(b, s.tags...), nil
}

// errSample is returned for encoded samples that do not decode.
var errSample = errors.New("classify: corrupt learned-message record")

// UnmarshalBinary decodes a sample, refusing one whose slots do not fit a
// table of 2^MaxBits.
func (s *Sample) UnmarshalBinary(b []byte) error {
	if len(b) < 9 {
		return errSample
	}
	s.Digest = binary.LittleEndian.Uint64(b)
	if b[8]&^3 != 0 {
		return errSample
	}
	s.Spam = b[8]&1 == 1
	grouped := b[8]&2 != 0
	b = b[9:]
	at, k := binary.Varint(b)
	if k <= 0 {
		return errSample
	}
	s.At = time.Unix(at, 0).UTC()
	b = b[k:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return errSample
	}
	b = b[k:]
	s.nHead = 0
	if grouped {
		h, k := binary.Uvarint(b)
		if k <= 0 || h == 0 || h > n {
			return errSample
		}
		s.nHead = int(h)
		b = b[k:]
	}
	s.feats = make([]uint32, n)
	prev := uint64(0)
	for i := range s.feats {
		if i == s.nHead {
			prev = 0
		}
		d, k := binary.Uvarint(b)
		if k <= 0 {
			return errSample
		}
		b = b[k:]
		prev += d
		if prev >= 1<<(MaxBits+1) {
			return errSample
		}
		s.feats[i] = uint32(prev)
	}
	if uint64(len(b)) != n {
		return errSample
	}
	s.tags = slices.Clone(b)
	return nil
}

// fits reports whether the sample's slots fit the model's table.
func (s Sample) fits(bits int) bool {
	for _, run := range [][]uint32{s.feats[:s.nHead], s.feats[s.nHead:]} {
		if len(run) > 0 && run[len(run)-1]>>1 >= 1<<bits {
			return false
		}
	}
	return true
}

// keep records a learned message, replacing an earlier record of it; past
// MaxKept the oldest record goes. The caller holds the write lock.
func (m *Model) keep(s Sample) {
	if m.kept == nil {
		m.kept = map[uint64]Sample{}
	}
	m.kept[s.Digest] = s
	if len(m.kept) <= m.maxKept() {
		return
	}
	var oldest uint64
	first := true
	for d, k := range m.kept {
		o := m.kept[oldest]
		if first || k.At.Before(o.At) || k.At.Equal(o.At) && d < oldest {
			oldest, first = d, false
		}
	}
	delete(m.kept, oldest)
}

func (m *Model) maxKept() int {
	if m.keepMax > 0 {
		return m.keepMax
	}
	return MaxKept
}

// Kept returns how many learned messages the model keeps for rebuilding.
func (m *Model) Kept() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.kept)
}

// Forget drops the kept messages learned before t (their retention ended)
// and reports how many went; Rebuild then forgets what they taught.
func (m *Model) Forget(before time.Time) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for d, s := range m.kept {
		if s.At.Before(before) {
			delete(m.kept, d)
			n++
		}
	}
	return n
}

// ErrUnkept is returned by Rebuild for a model that learned messages it
// did not keep (with Learn or ScoreLearn, or in an older model file): a
// rebuild would forget them.
var ErrUnkept = errors.New("classify: the model learned messages it did not keep; a rebuild would forget them (retrain it from the messages with accord learn)")

// Rebuild relearns the model from its kept messages alone, in digest
// order: afterwards it is the same model whatever order they were learned
// in.
func (m *Model) Rebuild() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.unkept > 0 {
		return ErrUnkept
	}
	m.rebuildLocked(sortedSamples(m.kept))
	return nil
}

func sortedSamples(kept map[uint64]Sample) []Sample {
	ss := make([]Sample, 0, len(kept))
	for _, s := range kept {
		ss = append(ss, s)
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].Digest < ss[j].Digest })
	return ss
}

func (m *Model) rebuildLocked(ss []Sample) {
	clear(m.t)
	m.nSpam, m.nHam, m.bias, m.nbW, m.nbWH, m.unkept = 0, 0, 0, 1, 0, 0
	m.seen = newDigestSet(m.seen.bits)
	for _, s := range ss {
		f := s.featureSet()
		lr, nb, nbh := m.logits(f, nil)
		m.learn(f, lr, nb, nbh, s.Spam, 1)
		m.seen.put(s.Digest, s.Spam)
	}
}

// Build returns a model learned from samples alone, in digest order (a
// sample learned twice counts once, with its latest class): the model of
// several filter instances that share one store of learned messages.
// Samples that do not fit the table size are skipped and counted.
func Build(p Params, samples []Sample) (*Model, int) {
	m := New(p)
	m.kept = make(map[uint64]Sample, len(samples))
	skipped := 0
	for _, s := range samples {
		if !s.fits(m.p.Bits) {
			skipped++
			continue
		}
		if o, ok := m.kept[s.Digest]; ok && o.At.After(s.At) {
			continue
		}
		m.kept[s.Digest] = s
	}
	m.rebuildLocked(sortedSamples(m.kept))
	return m, skipped
}

// KeptSamples returns the learned messages the model keeps, in digest
// order (to seed a shared store of learned messages).
func (m *Model) KeptSamples() []Sample {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return sortedSamples(m.kept)
}

// WriteScoring writes the model without its kept messages: what a filter
// instance needs to score, a fraction of the size.
func (m *Model) WriteScoring(w io.Writer) (int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	// The copy shares the tables, under the original's read lock.
	c := &Model{p: m.p, t: m.t, nSpam: m.nSpam, nHam: m.nHam, bias: m.bias, nbW: m.nbW, nbWH: m.nbWH, seen: m.seen, unkept: m.nSpam + m.nHam}
	return c.writeTo(w)
}
