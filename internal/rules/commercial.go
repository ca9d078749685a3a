package rules

import (
	"sort"
	"strings"
	"sync"

	accmail "github.com/accord-antispam/accord/internal/mail"
)

// Commercial says whether a message looks like a commercial communication.
// It is a judgement from signals, never assumed; the classifier's spam score
// is a separate matter (legitimate newsletters are commercial too).
type Commercial struct {
	Likely  Tri      `json:"likely"`
	Score   int      `json:"score"` // Weighted count of the signals; 6 or more (4 with a price or call to action) is commercial.
	Signals []string `json:"signals"`
}

// CommercialInput is what the judgement reads.
type CommercialInput struct {
	Header  accmail.Header
	Content *accmail.Content
	OptOut  OptOut
}

// bulkHeaders are set by list managers and bulk senders of every kind.
var bulkHeaders = []string{"List-Unsubscribe", "List-Id", "X-Campaign", "X-CampaignID", "X-Campaign-Id", "X-Newsletter",
	"X-Mailer-RecptId"}

// espHeaders are set by the e-mail service providers that marketing mail
// goes through (Feedback-ID is Gmail's feedback loop for bulk senders).
var espHeaders = []string{"Feedback-ID", "X-Mailgun-Tag", "X-Mailgun-Sid", "X-SG-EID", "X-MC-User", "X-Mailchimp-Campaign",
	"X-SES-Outgoing", "X-Marketo", "X-Sfmc-Stack", "X-Campaign-Id", "X-Mailjet-Campaign", "X-Sendinblue-Campaign",
	"X-Mailin-Campaign", "X-CSA-Complaints", "X-rpcampaign", "X-Klaviyo-Message-Id", "X-Braze-Campaign"}

// findPrice returns the first amount of money in the (lower-case) text:
// "$19.99", "€ 5", "19,99 €", "20 eur", "100 dollars".
func findPrice(t string) string {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !priceByte[c] {
			continue // most bytes start nothing below
		}
		if c == '$' || strings.HasPrefix(t[i:], "€") || strings.HasPrefix(t[i:], "£") || strings.HasPrefix(t[i:], "¥") || strings.HasPrefix(t[i:], "r$") {
			sym := 1
			if strings.HasPrefix(t[i:], "r$") {
				sym = 2
			} else if c != '$' {
				sym = len("€")
				if strings.HasPrefix(t[i:], "£") || strings.HasPrefix(t[i:], "¥") {
					sym = 2
				}
			}
			j := i + sym
			if j < len(t) && t[j] == ' ' {
				j++
			}
			k := j
			for k < len(t) && (t[k] >= '0' && t[k] <= '9' || (t[k] == ',' || t[k] == '.') && k > j) {
				k++
			}
			if k > j && t[j] >= '0' && t[j] <= '9' {
				return strings.TrimRight(t[i:k], ",.")
			}
			continue
		}
		if strings.HasPrefix(t[i:], "cents") && i > 0 && t[i-1] == ' ' && i > 1 && t[i-2] >= '0' && t[i-2] <= '9' {
			j := i - 2
			for j > 0 && t[j-1] >= '0' && t[j-1] <= '9' {
				j--
			}
			return t[j : i+5]
		}
		if c >= '0' && c <= '9' && (i == 0 || t[i-1] < '0' || t[i-1] > '9') && (i == 0 || t[i-1] != '.' && t[i-1] != ',') {
			k := i
			for k < len(t) && (t[k] >= '0' && t[k] <= '9' || t[k] == ',' || t[k] == '.') {
				k++
			}
			rest := t[k:]
			rest = strings.TrimPrefix(rest, " ")
			for _, cur := range []string{"€", "eur ", "eur.", "euro", "usd", "gbp", "dollars", "reais", "brl", "chf", "libras", "pounds"} {
				if strings.HasPrefix(rest, cur) {
					return t[i:k] + " " + strings.TrimSpace(cur)
				}
			}
			i = k
		}
	}
	return ""
}

// priceByte marks the bytes findPrice looks at: a currency sign's first
// byte ($, the lead byte of €, £ and ¥, the r of r$), the c of "cents",
// and digits.
var priceByte = func() (t [256]bool) {
	for _, s := range []string{"$", "€", "£", "¥", "r$", "cents", "0123456789"} {
		t[s[0]] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	return t
}()

// DetectCommercial weighs offer vocabulary, prices, discounts, coupons,
// calls to buy, free shipping and the marks of bulk-mail services, in the
// seven languages of the rulebooks. It answers true on strong evidence,
// false only when nothing points to selling, and unknown when the signals
// are few or pull both ways (a price in a mailing-list discussion).
func DetectCommercial(in CommercialInput) Commercial {
	sig := []string{}
	text := ""
	if in.Content != nil {
		if len(in.Content.Text) <= 128<<10 && len(in.Content.HTMLText) <= 128<<10 {
			text = in.Content.Lower() // lower-cased once for every check
		} else {
			text = strings.ToLower(headTail(in.Content.Text, 128<<10) + "\n" + headTail(in.Content.HTMLText, 128<<10))
		}
	}
	subject, _ := accmail.DecodeHeader(in.Header.Get("Subject"))
	all := strings.ToLower(subject) + "\n" + text
	offers, score, cta := matchWeighted(all)
	if len(offers) > 0 {
		sig = append(sig, "offer: "+strings.Join(offers, ", "))
	}
	strong := false // a signal that on its own means selling
	if price := findPrice(all); price != "" {
		sig = append(sig, "price: "+strings.TrimSpace(price))
		score += 2
		strong = true
	}
	if d := findDiscount(all); d != "" {
		sig = append(sig, "discount: "+d)
		score += 3
		strong = true
	}
	if cta != "" {
		sig = append(sig, "call to action: "+cta)
		score++
	}
	esp := ""
	for _, h := range espHeaders {
		if in.Header.Has(h) {
			esp = h + " header"
			break
		}
	}
	if esp == "" && in.OptOut.OneClick {
		esp = "RFC 8058 one-click unsubscribe (List-Unsubscribe-Post)"
	}
	if esp != "" {
		sig = append(sig, "bulk-mail service: "+esp)
		score += 2
	}
	bulk := ""
	for _, h := range bulkHeaders {
		if in.Header.Has(h) {
			bulk = h + " header"
			break
		}
	}
	if p := strings.ToLower(strings.TrimSpace(in.Header.Get("Precedence"))); bulk == "" && p == "bulk" {
		bulk = "Precedence: bulk"
	}
	if bulk == "" && len(in.OptOut.Phrases) > 0 {
		bulk = "opt-out text"
	}
	if bulk != "" {
		sig = append(sig, "bulk sending: "+bulk)
		score++
	}
	if subjectAdLabel(subject) {
		sig = append(sig, "advertisement label in the subject")
		score += 4
		strong = true
	}
	against := 0
	if in.Header.Has("List-Post") {
		sig = append(sig, "against: mailing-list discussion (List-Post)")
		against += 3 // people talking on a list, even about products
	}
	if in.Header.Has("In-Reply-To") && !in.Header.Has("List-Unsubscribe") {
		sig = append(sig, "against: a reply in a conversation (In-Reply-To)")
		against += 2
	}
	score -= against
	var likely Tri
	switch {
	case score >= 6, score >= 4 && (strong || cta != ""):
		likely = True
	case score <= 1 && !strong && esp == "":
		likely = False
	default:
		// Some signals, not enough, or pulling both ways: a person decides.
		likely = Unknown
	}
	return Commercial{Likely: likely, Signals: sig, Score: score}
}

// findDiscount returns a percentage or amount off written as selling
// ("20% off", "até 20% de desconto", "-30 %", "20 % Rabatt", "jusqu'à
// -50%", "10% de descuento", "sconto del 15%", "25% korting"), or "".
func findDiscount(t string) string {
	for off := 0; off < len(t); {
		i := strings.IndexByte(t[off:], '%')
		if i < 0 {
			return ""
		}
		i += off
		off = i + 1
		// The number before it ("20%", "20 %", "-20%").
		j := i
		if j > 0 && t[j-1] == ' ' {
			j--
		}
		k := j
		for k > 0 && t[k-1] >= '0' && t[k-1] <= '9' {
			k--
		}
		if k == j || j-k > 3 {
			continue
		}
		lo, hi := max(0, k-24), min(len(t), i+32)
		near := t[lo:hi]
		if k > 0 && t[k-1] == '-' {
			return strings.TrimSpace(t[k-1 : i+1])
		}
		for _, w := range discountWords {
			if strings.Contains(near, w) {
				return strings.Join(strings.Fields(near), " ")
			}
		}
	}
	return ""
}

// matchWeighted returns the offer phrases found and their summed weight,
// and the first call to action (or ""), from one reading of the text.
// Offer phrases that start with a word count only where the text has that
// whole word ("sale" in "wholesale" is not a sale); calls to action are
// found as containsWord finds them.
func matchWeighted(text string) (offers []string, score int, cta string) {
	x := commercialIndex
	wa := x.wordsIn(text)
	defer x.release(wa)
	for k := range offerCount {
		if x.has(text, wa.at, k, false) {
			offers = append(offers, x.list[k])
			score += offerWeight[k]
		}
	}
	sort.Strings(offers)
	for k := offerCount; k < len(x.list); k++ {
		if x.has(text, wa.at, k, true) {
			return offers, score, x.list[k]
		}
	}
	return offers, score, ""
}

// commercialIndex indexes the offer phrases of every language (weights in
// offerWeight), then the calls to action, for one reading of a text.
var commercialIndex, offerWeight, offerCount = func() (*phraseIndex, []int, int) {
	var list []string
	var weight []int
	for _, phrases := range offerPhrases {
		for p, w := range phrases {
			list = append(list, p)
			weight = append(weight, w)
		}
	}
	n := len(list)
	return newPhraseIndex(append(list, ctaPhrases...)), weight, n
}()

// phraseIndex finds which phrases of a list a text contains, reading the
// text's words once: a phrase that starts with a word (a run of word bytes)
// can only be there if the text has that word, so most phrases are ruled
// out by one lookup rather than a scan of the whole text each, and the
// others are looked for only where that word stands.
type phraseIndex struct {
	list    []string
	words   map[string]int // a first word → its number
	word    []int          // phrase → the number of its first word, or -1 when it starts with no word byte
	lengths uint64         // bit n: some first word has n bytes; bit 63: 63 or more
	single  []bool         // the phrase is one word: having the word answers
	bounded []bool         // the phrase also ends with a word byte
	pool    sync.Pool      // of *wordsAt with len(words) lists, reused by wordsIn
}

// wordsAt is where a text has each first word of a phraseIndex, by the
// word's number, and the numbers of the words it has. It is reused for
// the next text (phraseIndex.release): a list for every first word of an
// index, for each text and each link read, was most of what the scans
// allocated.
type wordsAt struct {
	at      [][]int32
	touched []int32
}

func newPhraseIndex(list []string) *phraseIndex {
	x := &phraseIndex{list: list, words: map[string]int{},
		word: make([]int, len(list)), single: make([]bool, len(list)), bounded: make([]bool, len(list))}
	x.pool.New = func() any { return &wordsAt{at: make([][]int32, len(x.words))} }
	for k, p := range list {
		x.word[k] = -1
		if p == "" || !isWordByte(p[0]) {
			continue
		}
		end := 0
		for end < len(p) && isWordByte(p[end]) {
			end++
		}
		w, ok := x.words[p[:end]]
		if !ok {
			w = len(x.words)
			x.words[p[:end]] = w
		}
		x.word[k] = w
		x.lengths |= 1 << min(end, 63)
		x.single[k] = end == len(p)
		x.bounded[k] = isWordByte(p[len(p)-1])
	}
	return x
}

// has answers for phrase k, given where the text has each first word. With
// exact false a phrase that starts with a word counts only where the text
// has that whole word (the lexicons' rule: "buy now!" is not in "xbuy
// now!"); with exact true the answer is containsWord's, which the word only
// rules out for a phrase that also ends with a word byte.
func (x *phraseIndex) has(text string, at [][]int32, k int, exact bool) bool {
	p := x.list[k]
	w := x.word[k]
	if w < 0 || exact && !x.bounded[k] {
		return containsWord(text, p)
	}
	if len(at[w]) == 0 {
		return false
	}
	if x.single[k] {
		return true
	}
	if !x.bounded[k] {
		return containsWord(text, p)
	}
	// A phrase that starts and ends with a word byte is in the text at a
	// word boundary where its first word stands, and nowhere else.
	for _, i := range at[w] {
		if strings.HasPrefix(text[i:], p) {
			if j := int(i) + len(p); j >= len(text) || !isWordByte(text[j]) {
				return true
			}
		}
	}
	return false
}

// first returns the first phrase of the list that text contains, or -1.
func (x *phraseIndex) first(text string, exact bool) int {
	wa := x.wordsIn(text)
	defer x.release(wa)
	for k := range x.list {
		if x.has(text, wa.at, k, exact) {
			return k
		}
	}
	return -1
}

// wordsIn returns where the text has each first word, by its number; the
// caller hands it back with release once read.
func (x *phraseIndex) wordsIn(text string) *wordsAt {
	wa := x.pool.Get().(*wordsAt)
	start := -1
	for i := 0; i <= len(text); i++ {
		if i < len(text) && isWordByte(text[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			if x.lengths&(1<<min(i-start, 63)) != 0 {
				if w, ok := x.words[text[start:i]]; ok {
					if len(wa.at[w]) == 0 {
						wa.touched = append(wa.touched, int32(w))
					}
					wa.at[w] = append(wa.at[w], int32(start))
				}
			}
			start = -1
		}
	}
	return wa
}

// release empties wa for the next text and returns it to the pool; a
// list grown long by one text is dropped rather than kept.
func (x *phraseIndex) release(wa *wordsAt) {
	for _, w := range wa.touched {
		if cap(wa.at[w]) > 1024 {
			wa.at[w] = nil
		} else {
			wa.at[w] = wa.at[w][:0]
		}
	}
	wa.touched = wa.touched[:0]
	x.pool.Put(wa)
}

func containsWord(text, p string) bool {
	for off := 0; off < len(text); {
		i := strings.Index(text[off:], p)
		if i < 0 {
			return false
		}
		i += off
		before := i == 0 || !isWordByte(text[i-1])
		j := i + len(p)
		after := j >= len(text) || !isWordByte(text[j])
		if before && after || !isWordByte(p[0]) || !isWordByte(p[len(p)-1]) {
			return true
		}
		off = i + 1
	}
	return false
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 0x80
}

func subjectAdLabel(subject string) bool {
	s := strings.ToLower(strings.TrimSpace(subject))
	for _, l := range adLabels {
		if strings.HasPrefix(s, l) {
			return true
		}
	}
	return false
}
