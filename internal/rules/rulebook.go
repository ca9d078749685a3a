package rules

import (
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

//go:embed rulebook/*.json
var rulebookFS embed.FS

// FactNames are the facts a rulebook predicate may use, with what they mean.
// The analysis engine sets all of them for every message; facts the message
// cannot show (consent) are unknown unless the caller supplies context.
var FactNames = map[string]string{
	"commercial":         "the message is a commercial communication (advertising or promoting goods or services)",
	"consent":            "the recipient gave prior consent to receive it (never visible in a message; from context)",
	"soft_opt_in":        "the recipient is an existing customer and the offer is for similar products (from context)",
	"identity_disguised": "the sender's identity is disguised or concealed",
	"opt_out_valid":      "the message carries a valid address or link to stop further messages",
	"header_forged":      "header information is forged or materially misleading (forged relays)",
	"subject_deceptive":  "the subject line is misleading about the message (e.g. a fake reply)",
	"ad_label":           "the message is clearly identified as an advertisement",
	"postal_address":     "the message gives a physical postal address of the sender",
	"contact_details":    "the message gives a way to contact the sender (address, phone, e-mail or web)",
	"phishing_likely":    "the message impersonates someone and asks for credentials or payment (fraud law rather than marketing law)",
}

// NotApplicable is the explanation of a rule whose premise does not hold,
// when its rulebook gives none: marketing law says nothing about the
// message, which does not make it lawful.
const NotApplicable = "The rule's premise does not hold for this message (it is not marketing), so this rule says nothing about it; other law (fraud, phishing) may apply."

// Rulebook is one jurisdiction's rules.
type Rulebook struct {
	Jurisdiction string   `json:"jurisdiction"` // ISO 3166 code, or "EU".
	Name         string   `json:"name"`
	Version      string   `json:"version"` // Date the text was last checked against the law.
	Sources      []string `json:"sources"`
	// OptOutDeadline is how long a sender has to honour an opt-out; nil
	// where the rulebook does not say.
	OptOutDeadline *Deadline `json:"opt_out_deadline,omitempty"`
	Rules          []Rule    `json:"rules"`
}

// Deadline is a time limit the law sets, counted from a request.
type Deadline struct {
	// BusinessDays counts Monday to Friday. Public holidays are not left
	// out, so a deadline falls on or before the legal one, never after.
	BusinessDays int `json:"business_days,omitempty"`
	// Hours is used where the law gives no number ("without delay"): the
	// line after which Accord flags the delay.
	Hours     int    `json:"hours,omitempty"`
	Statutory bool   `json:"statutory"` // The number is the law's, not Accord's line.
	Citation  string `json:"citation"`
	Text      string `json:"text"`
}

// Due returns when a request made at t must have been given effect.
func (d Deadline) Due(t time.Time) time.Time {
	t = t.UTC()
	if d.BusinessDays <= 0 {
		return t.Add(time.Duration(d.Hours) * time.Hour)
	}
	for n := d.BusinessDays; n > 0; {
		t = t.AddDate(0, 0, 1)
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return t
}

// Rule is one checkable obligation.
type Rule struct {
	ID       string            `json:"id"`
	Title    string            `json:"title"`
	Citation string            `json:"citation"`
	Applies  string            `json:"applies"` // Premise: when the rule speaks at all (usually "commercial").
	Breach   string            `json:"breach"`  // Predicate, read once the premise holds: true means breach.
	Explain  map[string]string `json:"explain"` // Plain-words text per status.
	Review   bool              `json:"human_review,omitempty"`

	pred  *node
	scope *node
}

// Status is the outcome of one rule for one message.
type Status string

// Status of a rule for one message. A rule reads ok only when its premise
// is established and its breach predicate is false: a premise that is
// false reads not-applicable, one that is unknown needs context.
const (
	StatusBreach        Status = "breach"
	StatusOK            Status = "ok"
	StatusNeedsContext  Status = "needs-context"
	StatusNotApplicable Status = "not-applicable"
)

// Assessment is one rule applied to one message.
type Assessment struct {
	Rule     string          `json:"rule"`
	Title    string          `json:"title"`
	Citation string          `json:"citation"`
	Status   Status          `json:"status"`
	Explain  string          `json:"explanation"`
	Evidence map[string]Fact `json:"evidence"`
	Review   bool            `json:"human_review"` // The conclusion rests on heuristics, or the rule always needs a person.
}

// Judgement is a rulebook applied to one message.
type Judgement struct {
	Jurisdiction string       `json:"jurisdiction"`
	Rulebook     string       `json:"rulebook"`
	Version      string       `json:"version"`
	Rules        []Assessment `json:"rules"`
}

// ParseRulebook reads and validates one rulebook: every predicate must
// compile and name only known facts.
func ParseRulebook(r io.Reader) (*Rulebook, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var b Rulebook
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("rulebook: %w", err)
	}
	if b.Jurisdiction == "" || len(b.Rules) == 0 {
		return nil, fmt.Errorf("rulebook: needs a jurisdiction and at least one rule")
	}
	if d := b.OptOutDeadline; d != nil && (d.BusinessDays < 0 || d.Hours < 0 || (d.BusinessDays == 0) == (d.Hours == 0) || d.Citation == "") {
		return nil, fmt.Errorf("rulebook %s: opt_out_deadline needs a citation and either business_days or hours", b.Jurisdiction)
	}
	known := map[string]bool{}
	for k := range FactNames {
		known[k] = true
	}
	seen := map[string]bool{}
	for i := range b.Rules {
		ru := &b.Rules[i]
		if ru.ID == "" || ru.Citation == "" || ru.Title == "" || ru.Applies == "" {
			return nil, fmt.Errorf("rulebook %s: rule %d needs an id, a title, a citation and a premise (applies)", b.Jurisdiction, i+1)
		}
		if seen[ru.ID] {
			return nil, fmt.Errorf("rulebook %s: duplicate rule id %q", b.Jurisdiction, ru.ID)
		}
		seen[ru.ID] = true
		n, err := parseExpr(ru.Breach, known)
		if err != nil {
			return nil, fmt.Errorf("rulebook %s: rule %s: breach %q: %w", b.Jurisdiction, ru.ID, ru.Breach, err)
		}
		ru.pred = n
		sc, err := parseExpr(ru.Applies, known)
		if err != nil {
			return nil, fmt.Errorf("rulebook %s: rule %s: applies %q: %w", b.Jurisdiction, ru.ID, ru.Applies, err)
		}
		ru.scope = sc
		for k := range ru.Explain {
			switch Status(k) {
			case StatusBreach, StatusOK, StatusNeedsContext, StatusNotApplicable:
			default:
				return nil, fmt.Errorf("rulebook %s: rule %s: explanation for unknown status %q", b.Jurisdiction, ru.ID, k)
			}
		}
	}
	return &b, nil
}

// Library holds rulebooks by jurisdiction.
type Library struct {
	books map[string]*Rulebook
}

// Embedded loads the rulebooks shipped with Accord.
func Embedded() (*Library, error) {
	return LoadFS(rulebookFS, "rulebook")
}

// LoadFS loads every *.json rulebook in dir of fsys.
func LoadFS(fsys fs.FS, dir string) (*Library, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read rulebooks: %w", err)
	}
	lib := &Library{books: map[string]*Rulebook{}}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		f, err := fsys.Open(path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		b, err := ParseRulebook(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		lib.books[strings.ToUpper(b.Jurisdiction)] = b
	}
	return lib, nil
}

// Jurisdictions lists the loaded rulebooks.
func (l *Library) Jurisdictions() []string {
	return sortedKeys(boolKeys(l.books))
}

// Get returns the rulebook for a jurisdiction.
func (l *Library) Get(j string) (*Rulebook, bool) {
	b, ok := l.books[strings.ToUpper(j)]
	return b, ok
}

// Judge applies the rulebook to the facts of one message. The premise is
// read first: false is not-applicable, unknown needs context; only an
// established premise lets the breach predicate speak. An assessment needs
// human review when its rule says so or when a fact it rests on is a
// heuristic.
func (b *Rulebook) Judge(f Facts) Judgement {
	j := Judgement{Jurisdiction: b.Jurisdiction, Rulebook: b.Name, Version: b.Version}
	for _, ru := range b.Rules {
		a := Assessment{Rule: ru.ID, Title: ru.Title, Citation: ru.Citation, Review: ru.Review, Evidence: map[string]Fact{}}
		used := map[string]bool{}
		ru.scope.names(used)
		switch ru.scope.eval(f) {
		case False:
			a.Status = StatusNotApplicable
		case Unknown:
			a.Status = StatusNeedsContext
		default:
			ru.pred.names(used)
			switch ru.pred.eval(f) {
			case True:
				a.Status = StatusBreach
			case False:
				a.Status = StatusOK
			default:
				a.Status = StatusNeedsContext
			}
		}
		a.Explain = ru.Explain[string(a.Status)]
		if a.Status == StatusNotApplicable {
			if a.Explain == "" {
				a.Explain = NotApplicable
			}
			if p := f["phishing_likely"]; p.Value == True {
				a.Explain += " The message looks like phishing: " + strings.Join(p.Why, "; ")
			}
		}
		for n := range used {
			fact := f[n]
			if fact.Why == nil {
				fact.Why = []string{}
			}
			a.Evidence[n] = fact
			if fact.Heuristic {
				a.Review = true
			}
		}
		j.Rules = append(j.Rules, a)
	}
	return j
}

func boolKeys[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
