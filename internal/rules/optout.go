package rules

import (
	"net/mail"
	"net/url"
	"sort"
	"strings"

	accmail "github.com/accord-antispam/accord/internal/mail"
)

// OptOut is what a message offers to stop further messages.
type OptOut struct {
	Valid           Tri            `json:"valid"`
	Why             string         `json:"why"`
	ListUnsubscribe []OptOutTarget `json:"list_unsubscribe"`
	OneClick        bool           `json:"one_click"` // RFC 8058 List-Unsubscribe-Post with an HTTPS target.
	OneClickSigned  bool           `json:"one_click_signed"`
	Body            []OptOutTarget `json:"body"`
	Phrases         []OptOutPhrase `json:"phrases"`
}

// OptOutTarget is one opt-out address or link.
type OptOutTarget struct {
	Kind    string `json:"kind"` // "mailto", "https", "http", "reply".
	Target  string `json:"target"`
	Valid   bool   `json:"valid"`
	Problem string `json:"problem,omitempty"`
	Via     string `json:"via,omitempty"` // How a body target was found: "anchor", "url", "near-phrase", "mailbox".
}

// OptOutPhrase is an opt-out wording found in the text.
type OptOutPhrase struct {
	Language string `json:"lang"`
	Phrase   string `json:"phrase"`
	Negated  bool   `json:"negated"` // Denied in its sentence: "there is no way to unsubscribe".
}

// OptOutInput is what opt-out detection reads.
type OptOutInput struct {
	ListUnsubscribe     string   // Header value.
	ListUnsubscribePost string   // Header value.
	DKIMSignedHeaders   []string // Lower-case names covered by a passing DKIM signature.
	Content             *accmail.Content
	ReplyAddress        string // Reply-To or From, for "reply with remove" instructions.
}

// DetectOptOut finds the List-Unsubscribe targets (RFC 2369, RFC 8058) and
// the opt-out links, addresses and instructions in the text, and decides
// whether the message carries a valid way to opt out.
func DetectOptOut(in OptOutInput) OptOut {
	var o OptOut
	for _, t := range splitListHeader(in.ListUnsubscribe) {
		o.ListUnsubscribe = append(o.ListUnsubscribe, checkTarget(t))
	}
	if strings.EqualFold(strings.Join(strings.Fields(in.ListUnsubscribePost), ""), "List-Unsubscribe=One-Click") {
		for _, t := range o.ListUnsubscribe {
			if t.Kind == "https" && t.Valid {
				o.OneClick = true
			}
		}
		if o.OneClick && contains(in.DKIMSignedHeaders, "list-unsubscribe") && contains(in.DKIMSignedHeaders, "list-unsubscribe-post") {
			o.OneClickSigned = true
		}
	}
	negated := ""
	if in.Content != nil {
		o.Body, o.Phrases, negated = bodyOptOut(in.Content, in.ReplyAddress)
	}
	o.Valid, o.Why = judgeOptOut(o, negated)
	return o
}

func judgeOptOut(o OptOut, negated string) (Tri, string) {
	for _, t := range o.ListUnsubscribe {
		if t.Valid {
			return True, "List-Unsubscribe header gives " + t.Target
		}
	}
	for _, t := range o.Body {
		if t.Valid && t.Kind != "reply" {
			return True, "the text gives an opt-out " + map[bool]string{true: "address", false: "link"}[t.Kind == "mailto"] + ": " + t.Target
		}
	}
	for _, t := range o.Body {
		if t.Kind == "reply" && t.Valid {
			return Unknown, "the text asks to reply to " + t.Target + " to opt out; whether that mailbox accepts requests cannot be seen in the message"
		}
	}
	for _, t := range o.Body {
		if t.Kind == "reply" {
			return False, "the text asks to reply to opt out, but " + t.Problem + " (" + t.Target + ")"
		}
	}
	if len(o.ListUnsubscribe) > 0 {
		return False, "the List-Unsubscribe header has no usable target: " + o.ListUnsubscribe[0].Problem
	}
	live := ""
	for _, p := range o.Phrases {
		if !p.Negated {
			live = p.Phrase
			break
		}
	}
	if live != "" {
		return Unknown, "the text mentions opting out (\"" + live + "\") but gives no address or link that could be found"
	}
	if negated != "" {
		return False, "the text says there is no way to opt out: \"" + clipText(negated, 160) + "\""
	}
	return False, "no List-Unsubscribe header and no opt-out link, address or instruction in the text"
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// splitListHeader returns the <…> URIs of an RFC 2369 field.
func splitListHeader(v string) []string {
	var out []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			out = append(out, strings.TrimSpace(v[i+1:]))
			break
		}
		out = append(out, strings.TrimSpace(v[i+1:i+j]))
		v = v[i+j+1:]
		if len(out) >= 10 {
			break
		}
	}
	return out
}

func checkTarget(t string) OptOutTarget {
	l := strings.ToLower(t)
	switch {
	case strings.HasPrefix(l, "mailto:"):
		out := OptOutTarget{Kind: "mailto", Target: t}
		addr := t[len("mailto:"):]
		if i := strings.IndexByte(addr, '?'); i >= 0 {
			addr = addr[:i]
		}
		addr, _ = url.PathUnescape(addr)
		if a, err := mail.ParseAddress(addr); err != nil || accmail.DomainOf(a.Address) == "" {
			out.Problem = "not a valid e-mail address"
		} else if d := accmail.DomainOf(a.Address); !strings.Contains(d, ".") {
			out.Problem = "the address's domain " + d + " is a single label (such as localhost): no one elsewhere can reach it"
		} else {
			out.Valid = true
		}
		return out
	case strings.HasPrefix(l, "https://"), strings.HasPrefix(l, "http://"):
		out := OptOutTarget{Kind: "https", Target: t}
		if strings.HasPrefix(l, "http://") {
			out.Kind = "http"
		}
		u, err := url.Parse(t)
		if err != nil || u.Hostname() == "" || !strings.Contains(u.Hostname(), ".") {
			out.Problem = "not a valid URL"
		} else {
			out.Valid = true
		}
		return out
	}
	return OptOutTarget{Kind: "other", Target: t, Problem: "neither mailto: nor http(s):"}
}

// phraseHit is one opt-out wording found in the text.
type phraseHit struct {
	lang, phrase string
	at           int    // byte offset in the lower-case text
	negation     string // the words that deny it ("no way to"), or ""
}

// maxPhraseHits bounds the occurrences looked at.
const maxPhraseHits = 64

// phraseByFirst lists the opt-out wordings by their first byte, languages
// in sorted order, so that findPhrases reads the text once rather than
// once per wording (a hundred wordings made it the engine's costliest step).
var phraseByFirst = func() (idx [256][]phraseHit) {
	langs := make([]string, 0, len(optOutPhrases))
	for lang := range optOutPhrases {
		langs = append(langs, lang)
	}
	sort.Strings(langs)
	for _, lang := range langs {
		for _, p := range optOutPhrases[lang] {
			idx[p[0]] = append(idx[p[0]], phraseHit{lang: lang, phrase: p})
		}
	}
	return idx
}()

// findPhrases returns every occurrence of the opt-out wordings, in text
// order, each with the negation around it if any. A wording counts where a
// word starts; no wording can overlap a later occurrence of itself that
// starts a word, so every such occurrence is found.
func findPhrases(text string) []phraseHit {
	var hits []phraseHit
	// i steps from word start to word start (wordStart): past a run of
	// ASCII word bytes, the next start follows the byte that ends it.
	for i := 0; i < len(text) && len(hits) < maxPhraseHits*4; i++ {
		// Most word starts are ruled out by their first two bytes.
		if i+1 < len(text) && phraseSecond[text[i]][text[i+1]>>6]&(1<<(text[i+1]&63)) != 0 {
			for _, c := range phraseByFirst[text[i]] {
				p := c.phrase
				if len(text)-i >= len(p) && text[i+1] == p[1] && text[i:i+len(p)] == p {
					hits = append(hits, phraseHit{lang: c.lang, phrase: p, at: i, negation: negationAround(text, i, i+len(p))})
					if len(hits) == maxPhraseHits*4 {
						break
					}
				}
			}
		}
		if asciiWordByte[text[i]] {
			for i++; i < len(text) && asciiWordByte[text[i]]; i++ {
			}
		}
	}
	sort.Slice(hits, func(a, b int) bool {
		if hits[a].at != hits[b].at {
			return hits[a].at < hits[b].at
		}
		return len(hits[a].phrase) > len(hits[b].phrase)
	})
	// One hit per place: "vous désinscrire" and "désinscrire" overlap.
	out := hits[:0]
	end := -1
	for _, h := range hits {
		if h.at < end {
			continue
		}
		out = append(out, h)
		end = h.at + len(h.phrase)
		if len(out) == maxPhraseHits {
			break
		}
	}
	return out
}

// phraseSecond marks, for each first byte, the second bytes of the
// opt-out wordings that start with it (every wording has two or more).
var phraseSecond = func() (t [256][4]uint64) {
	for first, list := range phraseByFirst {
		for _, h := range list {
			if len(h.phrase) < 2 {
				panic("rules: opt-out wording " + h.phrase + " is shorter than two bytes")
			}
			c := h.phrase[1]
			t[first][c>>6] |= 1 << (c & 63)
		}
	}
	return t
}()

func wordStart(t string, i int) bool {
	return i == 0 || !isWordByte(t[i-1]) || t[i-1] >= 0x80
}

// asciiWordByte marks the bytes after which no word starts (wordStart):
// a-z and 0-9.
var asciiWordByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = isWordByte(byte(c)) && c < 0x80
	}
	return t
}()

// sentenceBounds returns the sentence around [i, j): back to the previous
// sentence end or blank line, forward to the next.
func sentenceBounds(t string, i, j int) (int, int) {
	lo := max(0, i-160)
	for k := i - 1; k >= lo; k-- {
		if c := t[k]; c == '.' && k+1 < len(t) && (t[k+1] == ' ' || t[k+1] == '\n') || c == '!' || c == '?' || c == '\n' && k > 0 && t[k-1] == '\n' {
			lo = k + 1
			break
		}
	}
	hi := min(len(t), j+160)
	for k := j; k < hi; k++ {
		if c := t[k]; c == '.' && (k+1 == len(t) || t[k+1] == ' ' || t[k+1] == '\n') || c == '!' || c == '?' || c == '\n' && k+1 < len(t) && t[k+1] == '\n' {
			hi = k
			break
		}
	}
	return lo, hi
}

// negationAround returns the negation that denies the opt-out wording at
// [i, j) within its sentence ("there is no way to unsubscribe", "you
// cannot opt out", "não é possível descadastrar", "unsubscribing is not
// possible"), or "".
func negationAround(t string, i, j int) string {
	lo, hi := sentenceBounds(t, i, j)
	before := t[max(lo, i-48):i]
	after := t[j:min(hi, j+40)]
	for _, n := range negationsBefore {
		if strings.Contains(before, n) {
			return n
		}
	}
	for _, n := range negationsAfter {
		if strings.Contains(after, n) {
			return n
		}
	}
	return ""
}

// afterWindow is where the target of the opt-out wording at h may be
// written: its own sentence on its line ("Click here to unsubscribe"), on
// to the end of the sentence and the next line ("To unsubscribe, click:\n
// https://…"). A link on a line above belongs to something else.
func afterWindow(t string, h phraseHit) string {
	lo, hi := sentenceBounds(t, h.at, h.at+len(h.phrase))
	if nl := strings.LastIndexByte(t[lo:h.at], '\n'); nl >= 0 {
		lo += nl + 1
	}
	// The rest of the sentence's line, then the next line that has text
	// ("please go to your user page.\n\n\thttp://…").
	if hi < len(t) {
		end := hi
		if nl := strings.IndexByte(t[hi:], '\n'); nl >= 0 {
			k := hi + nl
			for k < len(t) && (t[k] == '\n' || t[k] == ' ' || t[k] == '\t' || t[k] == '\r') && k-hi < 400 {
				k++
			}
			next := t[k:]
			if e := strings.IndexByte(next, '\n'); e >= 0 {
				next = next[:e]
			}
			end = k + min(len(next), 200)
		} else {
			end = len(t)
		}
		hi = min(len(t), end)
	}
	return t[lo:min(hi, h.at+len(h.phrase)+600)]
}

// genericAnchors are link texts that mean "this link": they count as the
// opt-out target when they come right after the wording.
var genericAnchors = map[string]bool{"here": true, "click here": true, "this link": true, "ici": true, "cliquez ici": true,
	"hier": true, "hier klicken": true, "klicken sie hier": true, "aquí": true, "aqui": true, "pulse aquí": true,
	"haga clic aquí": true, "clique aqui": true, "clicca qui": true, "qui": true, "klik hier": true, "link": true,
	"este enlace": true, "este link": true, "ce lien": true, "diesen link": true, "questo link": true, "deze link": true}

func bodyOptOut(c *accmail.Content, reply string) ([]OptOutTarget, []OptOutPhrase, string) {
	var text string
	if len(c.Text)+1+len(c.HTMLText) <= 1<<20 {
		text = c.Lower() // lower-cased once for every check
	} else {
		text = strings.ToLower(headTail(c.Text+"\n"+c.HTMLText, 1<<20))
	}
	hits := findPhrases(text)
	var phrases []OptOutPhrase
	var windows []string
	negated := ""
	seenPhrase := map[string]bool{}
	for _, h := range hits {
		if !seenPhrase[h.phrase] {
			seenPhrase[h.phrase] = true
			phrases = append(phrases, OptOutPhrase{Language: h.lang, Phrase: h.phrase, Negated: h.negation != ""})
		}
		if h.negation != "" {
			if negated == "" {
				lo, hi := sentenceBounds(text, h.at, h.at+len(h.phrase))
				negated = strings.TrimSpace(text[lo:hi])
			}
			continue
		}
		windows = append(windows, afterWindow(text, h))
	}
	sortPhrases(phrases)
	var out []OptOutTarget
	seen := map[string]bool{}
	add := func(t OptOutTarget) {
		if !seen[t.Kind+t.Target] && len(out) < 10 {
			seen[t.Kind+t.Target] = true
			out = append(out, t)
		}
	}
	for _, u := range c.URLs {
		if u.Source == "src" || u.Source == "style" || u.Source == "background" {
			continue
		}
		via := ""
		lt := strings.ToLower(strings.TrimSpace(u.Text))
		switch {
		case lt != "" && anchorSaysOptOut(lt):
			via = "anchor"
		case urlHasOptOutToken(u.URL):
			via = "url"
		case u.Source == "text" && inWindows(windows, strings.ToLower(u.Raw+u.URL)):
			via = "near-phrase"
		case u.Source == "href" && genericAnchors[strings.Trim(lt, " .:!>»→")] && inWindows(windows, lt):
			via = "near-phrase"
		}
		if via != "" {
			t := checkTarget(u.URL)
			t.Via = via
			add(t)
		}
	}
	for _, e := range c.Emails {
		le := strings.ToLower(e)
		at := strings.IndexByte(le, '@')
		if at < 0 {
			continue
		}
		via := ""
		if optOutMailbox(le[:at]) {
			via = "mailbox"
		} else if inWindows(windows, le) {
			via = "near-phrase"
		}
		if via != "" {
			t := checkTarget("mailto:" + e)
			t.Via = via
			add(t)
		}
	}
	rank := map[string]int{"anchor": 0, "url": 1, "mailbox": 2, "near-phrase": 3}
	sort.SliceStable(out, func(i, j int) bool { return rank[out[i].Via] < rank[out[j].Via] })
	// Opting out by replying is its own kind of target, found whether or
	// not there are links: "To unsubscribe reply with REMOVE".
	if reply != "" {
		at := firstReplyPhrases(text)
		for k, p := range replyPhrases {
			i := at[k]
			if i < 0 || negationAround(text, i, i+len(p)) != "" {
				continue
			}
			// "Just reply to this e-mail" asks a question, not for a removal:
			// the sentence must be about opting out.
			lo, hi := sentenceBounds(text, i, i+len(p))
			if !aboutOptOut(text[lo:hi]) {
				continue
			}
			t := OptOutTarget{Kind: "reply", Target: reply, Via: "instruction"}
			switch {
			case !strings.Contains(accmail.DomainOf(reply), "."):
				t.Problem = "the reply address has no domain"
			case noReply(reply):
				t.Problem = "the reply address says it takes no replies"
			default:
				t.Valid = true
			}
			add(t)
			break
		}
	}
	return out, phrases, negated
}

// replyAnchors are words one of which every reply phrase contains, rarest
// first; replyByAnchor lists each phrase under the first it contains, with
// the anchor's offset in it.
var replyAnchors = []string{"rispond", "répond", "antwo", "respond", "unsubscribe", "reply", "remove"}

type anchored struct{ phrase, offset int }

var replyByAnchor = func() [][]anchored {
	by := make([][]anchored, len(replyAnchors))
	for k, p := range replyPhrases {
		a := 0
		for a < len(replyAnchors) && !strings.Contains(p, replyAnchors[a]) {
			a++
		}
		if a == len(replyAnchors) {
			panic("rules: reply phrase " + p + " has no anchor")
		}
		by[a] = append(by[a], anchored{k, strings.Index(p, replyAnchors[a])})
	}
	return by
}()

// firstReplyPhrases returns where each of replyPhrases first occurs in
// text (strings.Index for each), looking for the few anchor words rather
// than for every phrase.
func firstReplyPhrases(text string) []int {
	at := make([]int, len(replyPhrases))
	for k := range at {
		at[k] = -1
	}
	for a, anchor := range replyAnchors {
		left := len(replyByAnchor[a])
		for off := 0; left > 0 && off < len(text); {
			j := strings.Index(text[off:], anchor)
			if j < 0 {
				break
			}
			j += off
			off = j + 1
			for _, c := range replyByAnchor[a] {
				if i := j - c.offset; at[c.phrase] < 0 && i >= 0 && strings.HasPrefix(text[i:], replyPhrases[c.phrase]) {
					at[c.phrase] = i
					left--
				}
			}
		}
	}
	return at
}

// aboutOptOut reports whether a sentence speaks of opting out.
func aboutOptOut(s string) bool {
	for _, h := range findPhrases(s) {
		if h.negation == "" {
			return true
		}
	}
	for _, w := range []string{"remove", "unsubscribe", "stop", "stopp", "baja", "sair", "retirer", "cancella", "afmelden"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// anchorSaysOptOut reports whether a link's text is an opt-out wording that
// is not denied.
func anchorSaysOptOut(lt string) bool {
	for _, h := range findPhrases(lt) {
		if h.negation == "" {
			return true
		}
	}
	return strings.Contains(lt, "remove me") || lt == "remove"
}

// optOutMailbox reports whether a mailbox name is one used for opt-out
// requests ("remove", "unsubscribe", "baja", "afmelden").
func optOutMailbox(local string) bool {
	for _, lp := range optOutLocalParts {
		if local == lp || strings.HasPrefix(local, lp+"-") || strings.HasPrefix(local, lp+"_") || strings.HasPrefix(local, lp+".") || strings.HasPrefix(local, lp+"+") {
			return true
		}
	}
	return strings.Contains(local, "unsubscribe") || strings.Contains(local, "remove")
}

func noReply(addr string) bool {
	l := strings.ToLower(addr)
	local := l[:max(0, strings.IndexByte(l, '@'))]
	return strings.Contains(local, "noreply") || strings.Contains(local, "no-reply") || strings.Contains(local, "no_reply") ||
		strings.Contains(local, "donotreply") || strings.Contains(local, "do-not-reply") || strings.Contains(local, "naoresponder") ||
		strings.Contains(local, "nao-responder") || strings.Contains(local, "noresponder") || strings.Contains(local, "ne-pas-repondre")
}

func urlHasOptOutToken(u string) bool {
	l := strings.ToLower(u)
	if i := strings.Index(l, "://"); i >= 0 {
		l = l[i+3:]
	}
	if i := strings.IndexByte(l, '/'); i >= 0 {
		l = l[i:] // path and query only: a host named "remove…" proves nothing
	} else {
		return false
	}
	for _, t := range optOutURLTokens {
		if strings.Contains(l, t) {
			return true
		}
	}
	return false
}

func inWindows(ws []string, s string) bool {
	if s == "" {
		return false
	}
	for _, w := range ws {
		if strings.Contains(w, s) {
			return true
		}
	}
	// Text URLs appear in the window as written; try the host part alone.
	if i := strings.Index(s, "://"); i >= 0 {
		h := s[i+3:]
		if j := strings.IndexAny(h, "/?#"); j >= 0 {
			h = h[:j]
		}
		if len(h) > 4 {
			for _, w := range ws {
				if strings.Contains(w, h) {
					return true
				}
			}
		}
	}
	return false
}

func sortPhrases(p []OptOutPhrase) {
	// Deterministic output regardless of map order.
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && (p[j].Language+p[j].Phrase) < (p[j-1].Language+p[j-1].Phrase); j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}
