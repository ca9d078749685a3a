// Package classify is Accord's statistical spam classifier. A message
// becomes a set of hashed features — header words prefixed with their field,
// body words (HTML tag names and comments left out), orthogonal sparse
// bigrams (OSB) over the body, attachment types and names, parser defects
// and the message's shape (features.go lists them) — and two online
// learners read them:
//
//   - a count-based learner in the Robinson/Fisher tradition of bogofilter:
//     per-word spam and ham counts, Robinson's smoothing, and Fisher's
//     chi-square combination of the words that are far from neutral. It
//     learns fast from few messages and is honest when evidence points both
//     ways (it answers close to 0.5). When they point strongly both ways,
//     the header's words are also heard on their own, which a body padded
//     with ordinary words does not reach;
//   - an online logistic regression over all features, which learns the
//     residual: the count learner's log-odds are one of its inputs, and it
//     trains (thick threshold: on errors and near misses) on their sum.
//     Each feature's step shrinks with the number of messages it was seen
//     in, so rare words learn fast and common ones stay stable. Its sum
//     over a long message is scaled down (lengthScale), so that length
//     alone does not decide.
//
// While the model is young its log-odds are scaled down, so that its first
// scores say how unsure they are and stay comparable with later ones.
//
// The model is one fixed-size table, so its memory is bounded and known in
// advance; it is safe for concurrent scoring while a learner updates it; and
// every score can be explained by the features that moved it most.
package classify

import (
	"math"
	"sync"

	"github.com/accord-antispam/accord/internal/mail"
)

// Params configure a model. The zero value means the defaults.
type Params struct {
	Bits       int     // log2 of the feature table size; 8 bytes per slot (20: 8 MiB).
	Window     int     // OSB window in words (3: each word paired with the next two).
	HamBelow   float64 // Scores below are ham.
	SpamFrom   float64 // Scores at or above are spam; between is unsure (delivered, tagged).
	MinTrained int     // Until this many of each class were learned, every class is "unsure".
	Rate       float64 // Learning rate of the regression.
	Thick      float64 // Thick threshold (log-odds): the regression learns when not this sure.
}

// DefaultParams are used for every zero field.
func DefaultParams() Params {
	return Params{Bits: 20, Window: 3, HamBelow: 0.2, SpamFrom: 0.99, MinTrained: 10, Rate: 0.05, Thick: 3}
}

func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Bits <= 0 {
		p.Bits = d.Bits
	}
	p.Bits = min(max(p.Bits, 10), MaxBits)
	if p.Window <= 0 {
		p.Window = d.Window
	}
	p.Window = min(p.Window, 8)
	if p.HamBelow <= 0 {
		p.HamBelow = d.HamBelow
	}
	if p.SpamFrom <= 0 {
		p.SpamFrom = d.SpamFrom
	}
	if p.MinTrained <= 0 {
		p.MinTrained = d.MinTrained
	}
	if p.Rate <= 0 {
		p.Rate = d.Rate
	}
	if p.Thick <= 0 {
		p.Thick = d.Thick
	}
	return p
}

// MemoryBytes is the memory a model with these parameters holds: the
// feature table and the table of learned-message digests.
func (p Params) MemoryBytes() int64 { return int64(8)<<p.withDefaults().Bits + 8<<seenBits }

// slot is one feature's state, side by side so that a look-up touches one
// cache line: the regression weight, and in c an 8-bit tag of the feature's
// hash and its spam and ham counts (12 bits each; when one would overflow,
// both are halved, which keeps their ratio).
//
// The tag keeps features from sharing state: a feature whose tag differs
// from its slot's is unseen, and it takes the slot over only from a
// feature seen at most once. Hash tables without it lose a quarter of their
// accuracy to collisions at this size.
type slot struct {
	w float32
	c uint32 // tag << 24 | spam << 12 | ham
}

const countMax = 1<<12 - 1

func (s slot) tag() uint8 { return uint8(s.c >> 24) }
func (s slot) counts() (spam, ham float64) {
	return float64(s.c >> 12 & countMax), float64(s.c & countMax)
}
func (s slot) total() uint32 { return s.c>>12&countMax + s.c&countMax }

// Model is a classifier. Use New or Load; share one Model between goroutines.
type Model struct {
	mu    sync.RWMutex
	p     Params
	t     []slot
	nSpam uint32
	nHam  uint32
	bias  float32
	nbW   float32    // weight of the count learner's log-odds in the regression
	nbWH  float32    // weight of the count learner's header witness (learned like nbW, from 0)
	seen  *digestSet // messages learned, and as what, for corrections
	// kept are the learned messages' features, for Rebuild (keep.go);
	// keepMax overrides MaxKept (tests).
	kept    map[uint64]Sample
	keepMax int
	unkept  uint32 // messages learned without being kept
}

// New returns an empty model.
func New(p Params) *Model {
	p = p.withDefaults()
	return &Model{p: p, t: make([]slot, 1<<p.Bits), nbW: 1, seen: newDigestSet(seenBits)}
}

// Params returns the model's parameters.
func (m *Model) Params() Params { return m.p }

// Trained returns how many spam and ham messages the model has learned.
func (m *Model) Trained() (spam, ham int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return int(m.nSpam), int(m.nHam)
}

// Result is one scored message.
type Result struct {
	Score   float64  // Probability of spam, 0..1.
	Class   string   // "spam", "ham" or "unsure".
	Reasons []Reason // Features that moved the score most: towards spam first, then towards ham.
	Ready   bool     // The model had learned enough of both classes.
}

// Reason is one feature and its contribution in log-odds (positive: spam).
type Reason struct {
	Feature string
	Weight  float64
}

// Features are a message's hashed features, computed once and usable for
// both scoring and learning.
type Features struct {
	f *featureSet
}

// Extract computes the features of a parsed message. explain keeps their
// names, for Score's reasons.
func (m *Model) Extract(msg *mail.Message, explain bool) Features {
	return Features{extract(msg, m.p, explain)}
}

// Len is the number of distinct features.
func (f Features) Len() int { return len(f.f.idx) }

// The count learner follows bogofilter's defaults: Robinson's strength and
// prior for unseen words, and only words at least minDev from neutral count.
const (
	robStrength = 0.0178
	robPrior    = 0.52
	minDev      = 0.375
	// The Fisher indicator is kept inside (nbClamp, 1-nbClamp) and the
	// regression's share inside ±lrClamp: no single learner may be certain
	// on its own, since one confidently wrong score costs more rank pairs
	// than many hesitant ones.
	nbClamp = 1e-3
	lrClamp = 3.0
	// youngK: a young model's log-odds are scaled by n/(n+youngK), n the
	// smaller class count.
	youngK = 10.0
	// hamCost: a ham's error weighs this many times a spam's in the
	// regression's steps, since a lost wanted message costs more than a
	// delivered spam.
	hamCost = 2.0
	// lengthN: the regression's sum over a message of n > lengthN
	// features is scaled by √(lengthN/n) (lengthScale).
	lengthN = 300.0
)

// lengthScale is the factor of a message's regression weights: 1 up to
// lengthN features, √(lengthN/n) past it. The regression adds a weight for
// every feature, and each word of ordinary prose carries a small one — the
// regression learns on its mistakes and near misses, most of them long
// discussions, and a ham's error weighs twice a spam's — so its sum grew
// with a message's length alone: a "hash-buster", an advertisement padded
// with hundreds of encyclopaedia sentences, was held at the clamp (−3
// log-odds) by words none of which says much. Scaled, the sum of n small
// contributions keeps the spread of lengthN of them, while one strong
// feature still counts. The scale is the message's, not the model's (its
// feature count, seen or not), so it is the same in scoring and learning;
// the steps of learning are not scaled. lengthN was chosen on the public
// corpus (docs/filter.md, "Message length"): online in both orders and
// learned on its 2002 collection, applied to its 2003 one.
func lengthScale(n int) float64 {
	if float64(n) <= lengthN {
		return 1
	}
	return math.Sqrt(lengthN / float64(n))
}

// logits returns the regression (residual) and count log-odds of a message,
// and the count learner's header witness.
// contrib, when not nil, receives each feature's contribution to the fused
// log-odds. The caller holds the lock.
//
// nbh is the header's witness: Fisher's method over the header's words
// alone, weighed by how undecided the whole message's witness is (1 when it
// says 0.5, 0 when it is sure). A message whose words point strongly both
// ways — a "hash-buster", an image link over hundreds of sentences copied
// from an encyclopaedia, whose body words the learned ham also used — gets
// 0.5 from the whole message's witness, and then what its header says
// (sender, subject, mailer, relays: what padding does not reach) is heard,
// with a weight the regression learns as it learns the whole witness's
// (from 0: a model that never found it useful gives it none); a message
// the whole witness is sure of is decided as before.
func (m *Model) logits(f *featureSet, contrib []float64) (lr, nb, nbh float64) {
	s, h := float64(m.nSpam), float64(m.nHam)
	var lnF, ln1F [2]float64
	var used [2]int
	scale := lengthScale(len(f.idx))
	for j, i := range f.idx {
		sl := m.t[i]
		if sl.tag() != f.tag[j] {
			continue // another feature's slot: this one is unseen
		}
		wi := scale * float64(sl.w)
		lr += wi
		var l float64
		if !f.pair[j] && sl.total() > 0 && s > 0 && h > 0 {
			cs, ch := sl.counts()
			ps, ph := cs/s, ch/h
			p := ps / (ps + ph)
			n := cs + ch
			fw := (robStrength*robPrior + n*p) / (robStrength + n)
			if math.Abs(fw-0.5) >= minDev {
				fw = min(max(fw, 0.001), 0.999)
				l = math.Log(fw / (1 - fw))
				lnF[1] += math.Log(fw)
				ln1F[1] += math.Log(1 - fw)
				used[1]++
				if j < f.nHead {
					lnF[0] += math.Log(fw)
					ln1F[0] += math.Log(1 - fw)
					used[0]++
				}
			}
		}
		if contrib != nil {
			contrib[j] = wi + float64(m.nbW)*l/float64(max(used[1], 1))
		}
	}
	lr += float64(m.bias)
	// Fisher's method, as Robinson proposed and bogofilter does: how
	// unlikely are these word probabilities if the message were ham, and
	// if it were spam? The indicator is normalised for the number of
	// words, and is near 0.5 when the evidence points both ways. [0] is
	// the header's witness, [1] the whole message's.
	var out, ind [2]float64
	for k := range used {
		ind[k] = 0.5
		if used[k] == 0 {
			continue
		}
		hs := chi2Q(-2*lnF[k], 2*used[k])
		ss := chi2Q(-2*ln1F[k], 2*used[k])
		ind[k] = min(max((1+hs-ss)/2, nbClamp), 1-nbClamp)
		out[k] = math.Log(ind[k] / (1 - ind[k]))
	}
	undecided := 1 - math.Abs(2*ind[1]-1)
	return lr, out[1], undecided * out[0]
}

// claim reports whether a feature with this tag may update the slot, taking
// it over from a feature seen at most once. Removals never take slots.
func (m *Model) claim(sl *slot, tag uint8, dir int) bool {
	if sl.tag() == tag {
		return true
	}
	if dir < 0 || sl.total() > 1 {
		return false
	}
	*sl = slot{c: uint32(tag) << 24}
	return true
}

func (m *Model) fused(lr, nb, nbh float64) float64 {
	return min(max(lr, -lrClamp), lrClamp) + float64(m.nbW)*nb + float64(m.nbWH)*nbh
}

// youth scales the log-odds of a model that has learned little.
func (m *Model) youth() float64 {
	n := float64(min(m.nSpam, m.nHam))
	return n / (n + youngK)
}

// chi2Q is the upper tail of the chi-square distribution with v (even)
// degrees of freedom: Q = e^-m Σ_{i<v/2} m^i/i!, m = x/2. The terms are
// summed in log space around their largest, which neither underflows nor
// overflows for thousands of degrees of freedom.
func chi2Q(x float64, v int) float64 {
	m := x / 2
	k := v / 2
	if m <= 0 || k <= 0 {
		return 1
	}
	lm := math.Log(m)
	term := func(i int) float64 { // log of m^i/i! e^-m
		lg, _ := math.Lgamma(float64(i + 1))
		return -m + float64(i)*lm - lg
	}
	peak := min(k-1, int(m)) // terms rise until i ≈ m
	top := term(peak)
	sum := 1.0
	for i := peak - 1; i >= 0; i-- {
		d := math.Exp(term(i) - top)
		sum += d
		if d < 1e-17 {
			break
		}
	}
	for i := peak + 1; i < k; i++ {
		d := math.Exp(term(i) - top)
		sum += d
		if d < 1e-17 {
			break
		}
	}
	return min(math.Exp(top+math.Log(sum)), 1)
}

func sigmoid(z float64) float64 {
	z = min(max(z, -40), 40)
	return 1 / (1 + math.Exp(-z))
}

// Score rates a message. With explain (and features extracted with names),
// it lists the features that moved the score most.
func (m *Model) Score(f Features, explain bool) Result {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var contrib []float64
	if explain && f.f.names != nil {
		cp := contribs.Get().(*[]float64)
		defer contribs.Put(cp)
		if cap(*cp) < len(f.f.idx) {
			*cp = make([]float64, len(f.f.idx))
		}
		contrib = (*cp)[:len(f.f.idx)]
		clear(contrib) // logits leaves an unseen feature's at 0
	}
	lr, nb, nbh := m.logits(f.f, contrib)
	r := m.result(lr, nb, nbh)
	if contrib != nil {
		r.Reasons = topReasons(f.f.names, contrib, 5)
	}
	return r
}

// contribs recycles Score's per-feature contributions (a message has
// hundreds of features, read only to pick its reasons).
var contribs = sync.Pool{New: func() any { return new([]float64) }}

func (m *Model) result(lr, nb, nbh float64) Result {
	r := Result{Score: sigmoid(m.youth() * m.fused(lr, nb, nbh))}
	r.Ready = int(m.nSpam) >= m.p.MinTrained && int(m.nHam) >= m.p.MinTrained
	switch {
	case !r.Ready:
		r.Class = "unsure"
	case r.Score >= m.p.SpamFrom:
		r.Class = "spam"
	case r.Score < m.p.HamBelow:
		r.Class = "ham"
	default:
		r.Class = "unsure"
	}
	return r
}

func topReasons(names []fname, c []float64, n int) []Reason {
	// The n strongest each way, chosen in one pass (n is small) rather
	// than by sorting every feature: the same reasons, in the same order,
	// as a stable sort by contribution would give — for each sign the
	// largest magnitude first, ties by the feature's order (positive) or
	// its reverse order (negative, read from the sorted list's end).
	pos := make([]int, 0, n)
	neg := make([]int, 0, n)
	for i, x := range c {
		switch {
		case x > 0:
			pos = insertTop(pos, n, i, func(a, b int) bool { return c[a] > c[b] || c[a] == c[b] && a < b })
		case x < 0:
			neg = insertTop(neg, n, i, func(a, b int) bool { return c[a] < c[b] || c[a] == c[b] && a > b })
		}
	}
	var out []Reason
	for _, i := range pos {
		out = append(out, Reason{names[i].String(), round(c[i])})
	}
	for _, i := range neg {
		out = append(out, Reason{names[i].String(), round(c[i])})
	}
	return out
}

// insertTop keeps top, at most n indices ordered by before, with i added
// when it belongs there.
func insertTop(top []int, n, i int, before func(a, b int) bool) []int {
	k := len(top)
	for k > 0 && before(i, top[k-1]) {
		k--
	}
	if k >= n {
		return top
	}
	if len(top) < n {
		top = append(top, 0)
	}
	copy(top[k+1:], top[k:len(top)-1])
	top[k] = i
	return top
}

func round(x float64) float64 { return math.Round(x*1000) / 1000 }

// Learn trains the model on a message of known class.
func (m *Model) Learn(f Features, spam bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	lr, nb, nbh := m.logits(f.f, nil)
	m.learn(f.f, lr, nb, nbh, spam, 1)
	m.unkept++
}

// ScoreLearn scores a message and then learns its class, computing the
// feature look-ups once: the online protocol's step, and a mail server's
// when a user's feedback comes with the delivery.
func (m *Model) ScoreLearn(f Features, spam bool) Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	lr, nb, nbh := m.logits(f.f, nil)
	r := m.result(lr, nb, nbh)
	m.learn(f.f, lr, nb, nbh, spam, 1)
	m.unkept++
	return r
}

// learn adds (dir 1) or removes (dir -1) a message whose logits against the
// current model are lr and nb. The caller holds the write lock.
func (m *Model) learn(f *featureSet, lr, nb, nbh float64, spam bool, dir int) {
	target := 0.0
	if spam != (dir < 0) {
		target = 1 // a removal is a step towards the other class
	}
	out := m.fused(lr, nb, nbh)
	margin := out
	if target == 0 {
		margin = -out
	}
	if dir < 0 || margin < m.p.Thick {
		g := m.p.Rate * (target - sigmoid(out))
		if target == 0 {
			g *= hamCost
		}
		m.nbW = max(m.nbW+float32(0.1*g*min(max(nb, -20), 20)), 0)
		m.nbWH = max(m.nbWH+float32(0.1*g*min(max(nbh, -20), 20)), 0)
		for j, i := range f.idx {
			sl := &m.t[i]
			if !m.claim(sl, f.tag[j], dir) {
				continue
			}
			cs, ch := sl.counts()
			sl.w += float32(g / math.Sqrt(1+cs+ch))

		}
		m.bias += float32(g)
	}
	for j, i := range f.idx {
		sl := &m.t[i]
		if !m.claim(sl, f.tag[j], dir) {
			continue
		}
		cs, ch := sl.c>>12&countMax, sl.c&countMax
		switch {
		case spam && dir > 0:
			cs++
		case spam && dir < 0 && cs > 0:
			cs--
		case !spam && dir > 0:
			ch++
		case !spam && dir < 0 && ch > 0:
			ch--
		}
		if cs > countMax || ch > countMax {
			cs, ch = (cs+1)/2, (ch+1)/2
		}
		sl.c = uint32(f.tag[j])<<24 | cs<<12 | ch
	}
	switch {
	case spam && dir > 0:
		m.nSpam++
	case spam && dir < 0 && m.nSpam > 0:
		m.nSpam--
	case !spam && dir > 0:
		m.nHam++
	case !spam && dir < 0 && m.nHam > 0:
		m.nHam--
	}
}
