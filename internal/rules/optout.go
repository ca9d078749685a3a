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
	ListUnsubscribe []OptOutTarget `json:"list_unsubscribe,omitempty"`
	OneClick        bool           `json:"one_click"` // RFC 8058 List-Unsubscribe-Post with an HTTPS target.
	OneClickSigned  bool           `json:"one_click_signed"`
	Body            []OptOutTarget `json:"body,omitempty"`
	Phrases         []OptOutPhrase `json:"phrases,omitempty"`
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
}

// OptOutInput is what opt-out detection reads.
type OptOutInput struct {
	ListUnsubscribe     string   // Header value.
	ListUnsubscribePost string   // Header value.
	DKIMSignedHeaders   []string // Lower-case names covered by a passing DKIM signature.
	Content             *accmail.Content
	ReplyAddress        string // Reply-To or From, for "reply with remove" instructions.
}

const phraseWindow = 240

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
	if in.Content != nil {
		o.Body, o.Phrases = bodyOptOut(in.Content, in.ReplyAddress)
	}
	o.Valid, o.Why = judgeOptOut(o)
	return o
}

func judgeOptOut(o OptOut) (Tri, string) {
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
		if t.Kind == "reply" {
			return Unknown, "the text asks to reply to " + t.Target + " to opt out; whether that mailbox accepts requests cannot be seen in the message"
		}
	}
	if len(o.ListUnsubscribe) > 0 {
		return False, "the List-Unsubscribe header has no usable target: " + o.ListUnsubscribe[0].Problem
	}
	if len(o.Phrases) > 0 {
		return Unknown, "the text mentions opting out (\"" + o.Phrases[0].Phrase + "\") but gives no address or link that could be found"
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
		if a, err := mail.ParseAddress(addr); err != nil || accmail.DomainOf(a.Address) == "" || !strings.Contains(accmail.DomainOf(a.Address), ".") {
			out.Problem = "not a valid e-mail address"
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

func bodyOptOut(c *accmail.Content, reply string) ([]OptOutTarget, []OptOutPhrase) {
	text := strings.ToLower(c.Text + "\n" + c.HTMLText)
	if len(text) > 1<<20 {
		text = text[:1<<20]
	}
	var phrases []OptOutPhrase
	var windows []string
	seenPhrase := map[string]bool{}
	for lang, list := range optOutPhrases {
		for _, p := range list {
			i := strings.Index(text, p)
			if i < 0 || seenPhrase[p] {
				continue
			}
			seenPhrase[p] = true
			phrases = append(phrases, OptOutPhrase{Language: lang, Phrase: p})
			lo, hi := max(0, i-phraseWindow), min(len(text), i+len(p)+phraseWindow)
			windows = append(windows, text[lo:hi])
		}
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
		lt := strings.ToLower(u.Text)
		switch {
		case lt != "" && hasAnyPhrase(lt):
			via = "anchor"
		case urlHasOptOutToken(u.URL):
			via = "url"
		case u.Source == "text" && inWindows(windows, strings.ToLower(u.Raw+u.URL)):
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
		local := le[:strings.IndexByte(le, '@')]
		via := ""
		for _, lp := range optOutLocalParts {
			if local == lp || strings.HasPrefix(local, lp+"-") || strings.HasPrefix(local, lp+"_") || strings.HasPrefix(local, lp+".") || strings.HasPrefix(local, lp) && len(local) > len(lp) && strings.Contains(local, "remove") {
				via = "mailbox"
			}
		}
		if via == "" && inWindows(windows, le) {
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
	if len(out) == 0 && reply != "" {
		for _, p := range replyPhrases {
			if strings.Contains(text, p) {
				add(OptOutTarget{Kind: "reply", Target: reply, Valid: strings.Contains(accmail.DomainOf(reply), "."), Via: "instruction"})
				break
			}
		}
	}
	return out, phrases
}

func hasAnyPhrase(s string) bool {
	for _, list := range optOutPhrases {
		for _, p := range list {
			if strings.Contains(s, p) {
				return true
			}
		}
	}
	return strings.Contains(s, "remove")
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
