package classify

import (
	"bytes"
	"fmt"
	"math/bits"
	"net/netip"
	"strings"
	"sync"

	"github.com/accord-antispam/accord/internal/mail"
)

// Feature extraction. A message becomes a set of hashed features:
//
//   - header words, prefixed with the field name ("subject:free") for the
//     fields that say most, "rcvd:" for Received and "head:" for the rest,
//     whose names are features too ("header:x-priority"). What the
//     receiving side wrote is left out (ignoredField): the mbox envelope
//     line, the Date, delivery and mail-store fields, other filters'
//     verdicts (a sender can forge them, and they would teach the model to
//     echo another filter), and the time at the end of each Received field.
//     At most 8 KiB of header;
//   - body words from the text parts, at most 12 KiB: HTML without its tag
//     names and comments (attribute names and values and the text count),
//     case kept ("FREE" and "free" are different evidence), bare numbers
//     left out and long digit runs reduced to their shape;
//   - orthogonal sparse bigrams (OSB) over the body words: each word paired
//     with each of the next Window-1 words, with the distance — the feature
//     family of CRM114, OSBF-Lua and rspamd;
//   - each attachment's declared type and the words of its file name;
//   - the code of each parser defect ("defect:bad-base64");
//   - the shape of the message: body size (log2), number of parts, and whether
//     it has plain text, HTML or both ("shape:parts=3").
//
// Everywhere, an IPv4 address outside the Internet's routable space
// (private, loopback, link-local, shared) is one word, "<local-ip>": it
// names a host on one site's own network only.
//
// Features are hashed (FNV-1a, fixed seed, so a model file is portable) into
// the model's table; a message counts each feature once.

const (
	maxHeaderBytes = 8 << 10
	maxBodyBytes   = 12 << 10
	maxTokenLen    = 40
)

type featureSet struct {
	idx   []uint32 // distinct table slots, in first-seen order
	pair  []bool   // parallel to idx: an OSB pair (not a single word)
	tag   []uint8  // parallel to idx: bits of the hash that tell features in one slot apart
	names []fname  // parallel to idx when explaining, else nil
	// nHead: the first nHead features are the header's (it is read
	// first), which the count learner also hears as a witness of their
	// own (model.go, logits).
	nHead int
	set   []uint32 // open-addressing set of slot+1 values
	mask  uint32
	bits  uint
	// inPair marks the features being added as OSB pairs.
	inPair bool
	// Tokenizer state: the current header prefix, and the OSB window.
	prefix     uint64
	prefixName string
	window     int
	nwords     int
	win        [8]uint64
	winW       [8]string
	// spare is the pooled names list, kept aside when not explaining.
	spare []fname
}

// sets recycles the dedupe tables (32 KiB each) between extractions.
var sets = sync.Pool{New: func() any { return make([]uint32, 1<<13) }}

// lists recycles the feature lists of released extractions
// (Features.Release): a message's features and their names take about
// 50 KiB, a third of what deciding on a message allocated.
var lists = sync.Pool{New: func() any {
	return &featureLists{idx: make([]uint32, 0, 1024), pair: make([]bool, 0, 1024), tag: make([]uint8, 0, 1024)}
}}

type featureLists struct {
	idx   []uint32
	pair  []bool
	tag   []uint8
	names []fname
}

func newFeatureSet(bits uint, explain bool) *featureSet {
	l := lists.Get().(*featureLists)
	f := &featureSet{bits: bits, set: sets.Get().([]uint32), mask: 1<<13 - 1, idx: l.idx[:0], pair: l.pair[:0], tag: l.tag[:0]}
	if explain {
		f.names = l.names[:0]
		if f.names == nil {
			f.names = make([]fname, 0, 1024)
		}
	}
	f.spare = l.names
	return f
}

// Release hands the features' memory back for the next extraction, once
// they have been scored or learned: neither f nor a copy of it may be used
// after. Features never released are simply collected.
func (f Features) Release() {
	if f.f != nil {
		f.f.release()
	}
}

// release gives f's lists back for another extraction; f is not used
// after. The names, which point into the message's text, are cleared
// first, so the pool holds on to no message.
func (f *featureSet) release() {
	l := &featureLists{idx: f.idx, pair: f.pair, tag: f.tag, names: f.names}
	if l.names == nil {
		l.names = f.spare
	}
	clear(l.names) // past its length, cleared when last used
	*f = featureSet{}
	lists.Put(l)
}

// add records a hashed feature once; it reports whether it was new (the
// caller then records its name when explaining).
func (f *featureSet) add(h uint64) bool {
	slot := uint32(h>>(64-f.bits)) + 1 // never 0: 0 marks an empty set cell
	i := uint32(h) & f.mask
	for {
		v := f.set[i]
		if v == slot {
			return false
		}
		if v == 0 {
			break
		}
		i = (i + 1) & f.mask
	}
	if len(f.idx) >= len(f.set)/2 {
		return false // enough evidence for one message
	}
	f.set[i] = slot
	f.idx = append(f.idx, slot-1)
	f.pair = append(f.pair, f.inPair)
	f.tag = append(f.tag, uint8(h>>24))
	return true
}

func (f *featureSet) name(s string) {
	if f.names != nil {
		f.names = append(f.names, fname{a: s})
	}
}

// fname is a feature's name, put together only when it is shown (the few
// strongest features of a decision): a message has thousands of
// features, and building every word pair's name cost more than scoring.
type fname struct {
	a, b string // a alone; a and b joined by sep or, for a pair, gap
	gap  int8   // a pair: b comes gap words after a (window < 8)
	sep  bool   // "a:b" (a header field's word)
}

func (n fname) String() string {
	switch {
	case n.sep:
		return n.a + ":" + n.b
	case n.gap > 0:
		return n.a + strings.Repeat(" _", int(n.gap)-1) + " " + n.b
	}
	return n.a
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func hashBytes(h uint64, s []byte) uint64 {
	for _, c := range s {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

func hashByte(h uint64, b byte) uint64 {
	h ^= uint64(b)
	return h * fnvPrime
}

// mix finishes a hash so that its top bits, which pick the slot, are well
// distributed (FNV's top bits are weak for short inputs).
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// fieldKind maps a header field name to the prefix its words carry: its own
// for the fields that say most, "rcvd" for Received, and "head" for the rest
// (whose names become words themselves), as in bogofilter.
func fieldKind(name string) (prefix string, own bool) {
	if len(name) < 2 || len(name) > len("content-type") {
		return "head", false // no name below is shorter or longer
	}
	for _, k := range []string{"subject", "from", "to", "return-path", "reply-to", "envelope", "content-type", "x-mailer", "message-id"} {
		if strings.EqualFold(name, k) {
			return k, true
		}
	}
	if strings.EqualFold(name, "received") {
		return "rcvd", true
	}
	return "head", false
}

// extract computes the features of m.
func extract(m *mail.Message, p Params, explain bool) *featureSet {
	f := newFeatureSet(uint(p.Bits), explain)
	f.window = p.Window
	// Header words. The mbox envelope line is left out: it is written by
	// whoever stored the message, not by its sender.
	budget := maxHeaderBytes
	for _, fld := range m.Header.Fields {
		if ignoredField(fld.Name) {
			continue
		}
		prefix, own := fieldKind(fld.Name)
		if !own {
			if f.add(mix(hashLower(hashByte(fnvOffset, 'N'), fld.Name))) && explain {
				f.name("header:" + strings.ToLower(fld.Name))
			}
		}
		v := fld.Value
		if prefix == "rcvd" {
			// A trace field ends with the time it was added: the site's
			// clock and time zone, not the sender's.
			if i := strings.LastIndexByte(v, ';'); i >= 0 {
				v = v[:i]
			}
		}
		f.headerField(prefix, fld.Name, v, &budget)
		if budget <= 0 {
			break
		}
	}
	f.nHead = len(f.idx)
	// Body words and OSB pairs.
	left := maxBodyBytes
	for _, part := range m.Parts {
		if left <= 0 {
			break
		}
		if len(part.Children) > 0 {
			continue
		}
		if part.IsText() && part.Disposition != "attachment" {
			t := part.Text
			if len(t) > left {
				t = t[:left]
			}
			left -= len(t)
			if part.ContentType == "text/html" {
				forHTMLWords(t, f)
			} else {
				forWords(t, f, sinkBody)
			}
			continue
		}
		// Attachments: the type and the file name's words.
		if f.add(mix(hashString(hashByte(fnvOffset, 'A'), part.ContentType))) {
			f.name("attachment:" + part.ContentType)
		}
		if part.Filename != "" {
			f.prefix, f.prefixName = hashByte(fnvOffset, 'F'), "filename"
			forWords(part.Filename, f, sinkHeader)
		}
	}
	for _, d := range m.Defects {
		if f.add(mix(hashString(hashByte(fnvOffset, 'D'), d.Code))) {
			f.name("defect:" + d.Code)
		}
	}
	f.shape(m)
	clear(f.set)
	sets.Put(f.set)
	f.set = nil
	return f
}

// shape adds features of the message's form rather than its words: its size
// and structure, which spam tends to get wrong in its own ways.
func (f *featureSet) shape(m *mail.Message) {
	add := func(name string, v int) {
		h := hashByte(hashString(hashByte(fnvOffset, 'S'), name), byte(v))
		if f.add(mix(h)) && f.names != nil {
			f.name(fmt.Sprintf("shape:%s=%d", name, v))
		}
	}
	add("size-log2", bits.Len(uint(bodySize(m.Raw))))
	add("parts", min(len(m.Parts), 9))
	text, html := false, false
	for _, p := range m.Parts {
		switch p.ContentType {
		case "text/plain":
			text = true
		case "text/html":
			html = true
		}
	}
	kind := 0
	switch {
	case html && !text:
		kind = 1
	case html && text:
		kind = 2
	case !text:
		kind = 3
	}
	add("text-kind", kind)
}

// bodySize is the size of a message after its header: the header grows
// with every hop and mail store on the way, the body is what the sender
// wrote.
func bodySize(raw []byte) int {
	i := bytes.Index(raw, []byte("\n\r\n"))
	j := bytes.Index(raw, []byte("\n\n"))
	switch {
	case i < 0 && j < 0:
		return 0
	case i < 0 || j >= 0 && j < i:
		return len(raw) - j - 2
	default:
		return len(raw) - i - 3
	}
}

func (f *featureSet) headerField(prefix, name, v string, budget *int) {
	if len(v) > *budget {
		v = v[:*budget]
	}
	*budget -= len(v)
	f.prefix = hashByte(hashString(hashByte(fnvOffset, 'H'), prefix), ':')
	f.prefixName = prefix
	forWords(v, f, sinkHeader)
}

// Where forWords sends the words.
const (
	sinkHeader = iota // prefixed with the current field
	sinkBody          // body word, and OSB pairs with the words before it
)

func (f *featureSet) word(w []byte, ws string, sink int) {
	if localIPv4(w) {
		w, ws = localIP, string(localIP)
	}
	if sink == sinkHeader {
		if f.add(mix(hashBytes(f.prefix, w))) && f.names != nil {
			f.names = append(f.names, fname{a: f.prefixName, b: ws, sep: true})
		}
		return
	}
	h := hashBytes(hashByte(fnvOffset, 'B'), w)
	if f.add(mix(h)) && f.names != nil {
		f.names = append(f.names, fname{a: ws})
	}
	n := f.nwords
	f.inPair = true
	for d := 1; d < f.window && d <= n; d++ {
		k := (n - d) % len(f.win)
		ph := hashByte(f.win[k], byte('0'+d)) ^ h*0x9E3779B97F4A7C15
		if f.add(mix(ph)) && f.names != nil {
			f.names = append(f.names, fname{a: f.winW[k], b: ws, gap: int8(d)})
		}
	}
	f.inPair = false
	f.win[n%len(f.win)] = h
	if f.names != nil {
		f.winW[n%len(f.win)] = ws
	}
	f.nwords++
}

// localIP stands for every address that is not an Internet address
// (private, loopback, link-local, shared): such a number names a host on
// one site's own network, and the same number is another host at the
// next site, so it is evidence of nothing beyond the site that numbered it.
// A word never holds '<', so the stand-in meets no real word.
var localIP = []byte("<local-ip>")

// localIPv4 reports whether w is a dotted IPv4 address outside the
// Internet's routable space.
func localIPv4(w []byte) bool {
	if len(w) < 7 || len(w) > 15 || w[0] < '0' || w[0] > '9' {
		return false
	}
	// Only digits and three dots can be one: most words starting with a
	// digit are dates, prices and versions, and ParseAddr's error for each
	// cost an allocation.
	dots := 0
	for _, c := range w {
		switch {
		case c == '.':
			dots++
		case c < '0' || c > '9':
			return false
		}
	}
	if dots != 3 {
		return false
	}
	a, err := netip.ParseAddr(string(w))
	if err != nil || !a.Is4() {
		return false
	}
	b := a.As4()
	return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() ||
		b[0] == 0 || b[0] == 100 && b[1]&0xc0 == 64 || b[0] >= 240
}

func hashLower(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

// forWords feeds f each word of s, case kept: runs of letters and
// digits, with ".", "-", "_", "'", "$", "@" and "%" kept inside a word (so
// domains, prices and addresses stay whole). Long digit runs become their
// shape ("#7"), since serial numbers repeat nowhere.
func forWords(s string, f *featureSet, sink int) {
	var buf [maxTokenLen]byte
	i := 0
	for i < len(s) {
		// Skip separators.
		for i < len(s) && !wordByte(s[i]) {
			i++
		}
		start := i
		n := 0
		digits := 0
		for i < len(s) && (wordByte(s[i]) || inner(s[i]) && i+1 < len(s) && wordByte(s[i+1]) && i > start) {
			c := s[i] // case is kept: "FREE" and "free" are different evidence
			if c >= '0' && c <= '9' {
				digits++
			}
			if n < len(buf) {
				buf[n] = c
			}
			n++
			i++
		}
		if n < minTokenLen || n > maxTokenLen {
			continue
		}
		w := buf[:n]
		if digits == n {
			continue // bare numbers: times, dates, serials
		}
		f.word(w, s[start:i], sink) // the same bytes, as a string for its name
	}
}

const minTokenLen = 3

// forHTMLWords is forWords for HTML source: comments and tag names are
// skipped (they say little and come in thousands), attribute names and
// values and the text are kept.
func forHTMLWords(s string, f *featureSet) {
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			forWords(s, f, sinkBody)
			return
		}
		forWords(s[:i], f, sinkBody)
		s = s[i+1:]
		if strings.HasPrefix(s, "!--") {
			if j := strings.Index(s, "-->"); j >= 0 {
				s = s[j+3:]
			} else {
				return
			}
			continue
		}
		// Skip "/" and the tag name.
		j := 0
		if j < len(s) && (s[j] == '/' || s[j] == '!' || s[j] == '?') {
			j++
		}
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		// The attributes run to '>'.
		k := strings.IndexByte(s[j:], '>')
		if k < 0 {
			forWords(s[j:], f, sinkBody)
			return
		}
		forWords(s[j:j+k], f, sinkBody)
		s = s[j+k+1:]
	}
}

var wordBytes = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80 || c == '$' || c == '!'
	}
	return t
}()

func wordByte(c byte) bool { return wordBytes[c] }

func inner(c byte) bool {
	return c == '.' || c == '-' || c == '_' || c == '\'' || c == '@' || c == '%' || c == ','
}

// ignoredField reports the header fields whose words are left out: those
// written on the receiving side — trace and delivery fields, mail-store
// and client annotations, other filters' verdicts — and the Date. They
// describe the site and time a message was collected at, not its sender,
// so what a model learns from them holds only where it learned it (a
// corpus's spam and ham collected at different sites or years teach it
// the site or the year). The list follows SpamAssassin's Bayes
// (IGNORED_HDRS), which leaves out the same kinds of field for the same
// reason, and adds the fields of filters it does not name: Barracuda's
// gateway (X-Barracuda-*, and X-ASG-*, among them X-ASG-Orig-Subj, its copy
// of the Subject, whose words under "head:" read as the mailing-list
// fields of the learned ham) and BitDefender's.
func ignoredField(name string) bool {
	var buf [32]byte
	n := name
	if len(name) <= len(buf) && isASCII(name) {
		for i := 0; i < len(name); i++ {
			c := name[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		n = string(buf[:len(name)]) // strings.ToLower(name), on the stack
	} else {
		n = strings.ToLower(name)
	}
	switch n {
	case "date", "delivery-date", "delivered-to", "x-original-to", "envelope-to", "x-envelope-to",
		"x-envelope-from", "received-spf", "authentication-results", "arc-authentication-results",
		"x-uidl", "x-uid", "status", "x-status", "x-keywords", "x-flags", "x-imapbase", "xref",
		"lines", "content-length", "x-account-key", "x-mime-autoconverted", "x-converted-to-plain-text",
		"x-bogosity", "x-scanned-by", "x-scanner", "x-filtered-by", "x-antispam", "x-rbl-warning",
		"x-originalarrivaltime", "x-gnus-mail-source", "replied", "forwarded":
		return true
	}
	for _, p := range []string{"x-spam", "x-mozilla-", "x-barracuda", "x-asg-", "x-bitdefender", "x-virus", "x-amavis", "x-mailscanner", "x-vm-", "x-pyzor", "x-dcc-", "x-razor", "x-bayes"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return strings.Contains(n, "spam")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
