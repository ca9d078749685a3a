package rules

import (
	"sort"
	"strings"

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

// bulkHeaders are set by bulk-mail services and list managers.
var bulkHeaders = []string{"List-Unsubscribe", "Feedback-ID", "X-Campaign", "X-CampaignID", "X-Campaign-Id", "X-Mailgun-Tag",
	"X-SG-EID", "X-MC-User", "X-Mailchimp-Campaign", "X-SES-Outgoing", "X-Marketo", "X-Newsletter", "X-Mailer-RecptId", "X-Sfmc-Stack"}

// findPrice returns the first amount of money in the (lower-case) text:
// "$19.99", "€ 5", "19,99 €", "20 eur", "100 dollars".
func findPrice(t string) string {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c == '$' || strings.HasPrefix(t[i:], "€") || strings.HasPrefix(t[i:], "£") || strings.HasPrefix(t[i:], "¥") {
			sym := 1
			if c != '$' {
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
			for _, cur := range []string{"€", "eur ", "eur.", "euro", "usd", "gbp", "dollars"} {
				if strings.HasPrefix(rest, cur) {
					return t[i:k] + " " + strings.TrimSpace(cur)
				}
			}
			i = k
		}
	}
	return ""
}

// DetectCommercial weighs offer vocabulary, prices, calls to action and
// bulk-sending marks.
func DetectCommercial(in CommercialInput) Commercial {
	sig := []string{}
	text := ""
	if in.Content != nil {
		text = strings.ToLower(in.Content.Text + "\n" + in.Content.HTMLText)
	}
	if len(text) > 256<<10 {
		text = text[:256<<10]
	}
	subject, _ := accmail.DecodeHeader(in.Header.Get("Subject"))
	all := strings.ToLower(subject) + "\n" + text
	offers, score := matchWeighted(all, offerPhrases)
	if len(offers) > 0 {
		sig = append(sig, "offer: "+strings.Join(offers, ", "))
	}
	price := findPrice(all)
	if price != "" {
		sig = append(sig, "price: "+strings.TrimSpace(price))
	}
	cta := ""
	for _, p := range ctaPhrases {
		if strings.Contains(all, p) {
			cta = p
			break
		}
	}
	if cta != "" {
		sig = append(sig, "call to action: "+cta)
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
	}
	if subjectAdLabel(subject) {
		sig = append(sig, "advertisement label in the subject")
	}
	discussion := in.Header.Has("List-Post")
	if discussion {
		sig = append(sig, "mailing-list discussion (List-Post)")
	}
	if subjectAdLabel(subject) {
		score += 4
	}
	if price != "" {
		score++
	}
	if cta != "" {
		score++
	}
	if bulk != "" {
		score++
	}
	if discussion {
		score -= 3 // people talking on a list, even about products
	}
	var likely Tri
	switch {
	case score >= 6, score >= 4 && (price != "" || cta != ""):
		likely = True
	case score >= 3:
		likely = Unknown
	default:
		likely = False
	}
	return Commercial{Likely: likely, Signals: sig, Score: score}
}

// matchWeighted returns the phrases found and their summed weight. Single
// words count only at a word boundary ("sale" in "wholesale" is not a sale).
func matchWeighted(text string, lex map[string]map[string]int) ([]string, int) {
	var out []string
	score := 0
	for _, list := range lex {
		for p, w := range list {
			if containsWord(text, p) {
				out = append(out, p)
				score += w
			}
		}
	}
	sort.Strings(out)
	return out, score
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
