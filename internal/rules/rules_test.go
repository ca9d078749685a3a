package rules

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"

	accmail "github.com/accord-antispam/accord/internal/mail"
)

func TestKleeneLogic(t *testing.T) {
	known := map[string]bool{"a": true, "b": true, "c": true}
	for _, c := range []struct {
		expr    string
		a, b, c Tri
		want    Tri
	}{
		{"a and not (b or c)", True, Unknown, Unknown, Unknown},
		{"a and not (b or c)", True, True, Unknown, False},
		{"a and not (b or c)", False, Unknown, Unknown, False},
		{"a and not (b or c)", True, False, False, True},
		{"a or b and c", False, True, True, True}, // and binds tighter
		{"not a or unknown", True, 0, 0, Unknown},
		{"not not a", True, 0, 0, True},
		{"(a)", Unknown, 0, 0, Unknown},
	} {
		n, err := parseExpr(c.expr, known)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		f := Facts{"a": {Value: c.a}, "b": {Value: c.b}, "c": {Value: c.c}}
		if got := n.eval(f); got != c.want {
			t.Errorf("%s with a=%v b=%v c=%v = %v, want %v", c.expr, c.a, c.b, c.c, got, c.want)
		}
	}
	for _, bad := range []string{"", "a and", "(a", "a)", "a b", "and a", "d", "not", strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100)} {
		if _, err := parseExpr(bad, known); err == nil {
			t.Errorf("parseExpr(%q) accepted", bad)
		}
	}
}

func TestEmbeddedRulebooks(t *testing.T) {
	lib, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(lib.Jurisdictions(), ",")
	if got != "AU,CA,EU,GB,US" {
		t.Fatalf("jurisdictions = %s", got)
	}
	eu, _ := lib.Get("EU")
	// A marketing message with no opt-out, a disguised sender, and no word on consent.
	j := eu.Judge(Facts{
		"commercial":         {Value: True},
		"identity_disguised": {Value: True},
		"opt_out_valid":      {Value: False},
	})
	want := map[string]Status{"eu-prior-consent": StatusNeedsContext, "eu-identity-not-disguised": StatusBreach, "eu-valid-opt-out": StatusBreach}
	for _, a := range j.Rules {
		if a.Status != want[a.Rule] {
			t.Errorf("%s = %s, want %s", a.Rule, a.Status, want[a.Rule])
		}
		if a.Explain == "" || len(a.Evidence) == 0 {
			t.Errorf("%s: no explanation or evidence", a.Rule)
		}
	}
	// The recipient says they never consented and are not a customer: breach.
	j = eu.Judge(Facts{"commercial": {Value: True}, "consent": {Value: False}, "soft_opt_in": {Value: False}})
	if j.Rules[0].Status != StatusBreach {
		t.Errorf("consent rule with a reporter's answers = %s", j.Rules[0].Status)
	}
	// Not commercial: the marketing rules do not apply, which is not "ok",
	// and say so, pointing at other law.
	for _, a := range eu.Judge(Facts{"commercial": {Value: False}}).Rules {
		if a.Status != StatusNotApplicable || !strings.Contains(a.Explain, "other law (fraud, phishing) may apply") {
			t.Errorf("non-commercial %s = %s (%s)", a.Rule, a.Status, a.Explain)
		}
	}
	// Commercial unknown: a premise not established needs context, whatever
	// the other facts say.
	for _, a := range eu.Judge(Facts{"commercial": {Value: Unknown}, "consent": {Value: True}, "identity_disguised": {Value: False}, "opt_out_valid": {Value: True}}).Rules {
		if a.Status != StatusNeedsContext {
			t.Errorf("commercial unknown: %s = %s", a.Rule, a.Status)
		}
	}
	// A phishing message: not marketing, and the explanation says what it
	// looks like instead.
	ph := eu.Judge(Facts{"commercial": {Value: False}, "phishing_likely": {Value: True, Why: []string{"impersonation: PayPal"}}})
	if !strings.Contains(ph.Rules[0].Explain, "looks like phishing: impersonation: PayPal") {
		t.Errorf("phishing not mentioned: %s", ph.Rules[0].Explain)
	}
	// Conclusions that rest on heuristics need human review; those on
	// protocol facts and a person's word alone do not.
	h := eu.Judge(Facts{"commercial": {Value: True, Heuristic: true}, "consent": {Value: False}, "soft_opt_in": {Value: False}})
	if !h.Rules[0].Review {
		t.Errorf("breach on a heuristic commercial fact without human review")
	}
	h = eu.Judge(Facts{"commercial": {Value: True}, "consent": {Value: False}, "soft_opt_in": {Value: False}})
	if h.Rules[0].Review {
		t.Errorf("human review asked for facts that are not heuristics")
	}
}

// TestNoOKWithoutPremise: over every combination of facts, no rule of any
// embedded rulebook reads ok unless its premise (commercial) is true.
func TestNoOKWithoutPremise(t *testing.T) {
	lib, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(FactNames))
	for n := range FactNames {
		names = append(names, n)
	}
	vals := []Tri{True, False, Unknown}
	for _, j := range lib.Jurisdictions() {
		b, _ := lib.Get(j)
		for i := 0; i < 2000; i++ {
			f := Facts{}
			x := i
			for _, n := range names {
				f[n] = Fact{Value: vals[x%3]}
				x = x/3 + i*7
			}
			for _, a := range b.Judge(f).Rules {
				if a.Status == StatusOK && f["commercial"].Value != True {
					t.Fatalf("%s %s reads ok with commercial = %v", j, a.Rule, f["commercial"].Value)
				}
				if a.Status == StatusNotApplicable && f["commercial"].Value != False {
					t.Fatalf("%s %s reads not-applicable with commercial = %v", j, a.Rule, f["commercial"].Value)
				}
			}
		}
	}
}

func TestRulebookIsDataNotCode(t *testing.T) {
	// A new jurisdiction is a file: here a made-up one, loaded and judged.
	fsys := fstest.MapFS{"books/xx.json": {Data: []byte(`{"jurisdiction":"XX","name":"Test Act","version":"2026-01-01",
		"sources":["s. 1"],"rules":[{"id":"xx-1","title":"Label ads","citation":"s. 1","applies":"commercial","breach":"not ad_label","explain":{}}]}`)}}
	lib, err := LoadFS(fsys, "books")
	if err != nil {
		t.Fatal(err)
	}
	b, ok := lib.Get("xx")
	if !ok {
		t.Fatal("rulebook XX not loaded")
	}
	if s := b.Judge(Facts{"commercial": {Value: True}, "ad_label": {Value: False}}).Rules[0].Status; s != StatusBreach {
		t.Errorf("status = %s", s)
	}
	for _, bad := range []string{
		`{"jurisdiction":"XX","rules":[{"id":"a","title":"t","citation":"c","applies":"commercial","breach":"no_such_fact"}]}`,
		`{"jurisdiction":"XX","rules":[{"id":"a","title":"t","citation":"c","breach":"ad_label"}]}`,
		`{"jurisdiction":"XX","rules":[{"id":"a","title":"t","citation":"c","applies":"nope","breach":"ad_label"}]}`,
		`{"jurisdiction":"XX","rules":[{"id":"a","title":"t","citation":"c","applies":"commercial","breach":"ad_label","explain":{"fine":"x"}}]}`,
		`{"jurisdiction":"XX","rules":[{"id":"a","title":"t","citation":"c","breach":"commercial and"}]}`,
		`{"jurisdiction":"XX","rules":[{"id":"a","title":"t","citation":"c","breach":"commercial"},{"id":"a","title":"t","citation":"c","breach":"commercial"}]}`,
		`{"jurisdiction":"XX","rules":[{"id":"a","title":"t","breach":"commercial"}]}`,
		`{"jurisdiction":"XX","rules":[],"extra":1}`,
	} {
		if _, err := ParseRulebook(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseRulebook accepted %s", bad)
		}
	}
}

func TestTriJSON(t *testing.T) {
	b, _ := json.Marshal([]Tri{True, False, Unknown})
	if string(b) != `[true,false,"unknown"]` {
		t.Errorf("marshal = %s", b)
	}
	var back []Tri
	if err := json.Unmarshal(b, &back); err != nil || back[0] != True || back[1] != False || back[2] != Unknown {
		t.Errorf("unmarshal = %v %v", back, err)
	}
}

func content(text string, urls ...accmail.URL) *accmail.Content {
	return &accmail.Content{Text: text, URLs: urls}
}

func TestOptOutTargets(t *testing.T) {
	o := DetectOptOut(OptOutInput{
		ListUnsubscribe:     "<mailto:leave@lists.example.org?subject=unsubscribe>, <https://lists.example.org/u/abc>",
		ListUnsubscribePost: "List-Unsubscribe=One-Click",
		DKIMSignedHeaders:   []string{"from", "list-unsubscribe", "list-unsubscribe-post"},
	})
	if o.Valid != True || !o.OneClick || !o.OneClickSigned || len(o.ListUnsubscribe) != 2 {
		t.Errorf("header targets: %+v", o)
	}
	o = DetectOptOut(OptOutInput{ListUnsubscribe: "<mailto:not-an-address>"})
	if o.Valid != False || o.ListUnsubscribe[0].Problem == "" {
		t.Errorf("bad header target: %+v", o)
	}
	o = DetectOptOut(OptOutInput{Content: content("Click here to be removed.", accmail.URL{URL: "http://x.example.com/remove.html", Host: "x.example.com", Source: "href", Text: "here"})})
	if o.Valid != True || o.Body[0].Via != "url" {
		t.Errorf("remove link: %+v", o)
	}
	o = DetectOptOut(OptOutInput{Content: &accmail.Content{Text: "To be removed send mail to list-remove@example.net", Emails: []string{"list-remove@example.net"}}})
	if o.Valid != True || o.Body[0].Kind != "mailto" {
		t.Errorf("remove address: %+v", o)
	}
	o = DetectOptOut(OptOutInput{Content: content("Reply with REMOVE in the subject line."), ReplyAddress: "sales@example.biz"})
	if o.Valid != Unknown || o.Body[0].Kind != "reply" {
		t.Errorf("reply instruction: %+v", o)
	}
	if o := DetectOptOut(OptOutInput{Content: content("Hello Bob, lunch tomorrow?")}); o.Valid != False {
		t.Errorf("nothing: %+v", o)
	}
}

func TestIdentity(t *testing.T) {
	addr := func(name, a string) []accmail.Address {
		return []accmail.Address{{Name: name, Addr: a, Domain: accmail.DomainOf(a)}}
	}
	for _, c := range []struct {
		name string
		in   IdentityInput
		want Tri
		code string
	}{
		{"display name shows another address", IdentityInput{From: addr("service@paypal.com", "x@evil.example.ru"), FromStrict: true}, True, "display-name-address"},
		{"brand domain from free mail", IdentityInput{From: addr("PayPal.com Security", "verify2026@gmail.com"), FromStrict: true}, True, "display-name-domain"},
		{"brand domain from a service domain", IdentityInput{From: addr("News.com", "n@newsletter.online.com"), FromStrict: true}, Unknown, "display-name-domain"},
		{"DMARC fail", IdentityInput{From: addr("", "ceo@bank.example"), FromStrict: true, DMARC: "fail", DMARCPolicy: "reject"}, True, "dmarc-fail"},
		{"reply to free mail", IdentityInput{From: addr("Acme", "sales@acme.example"), ReplyTo: addr("", "acme.sales@yahoo.com"), FromStrict: true}, True, "reply-to-freemail"},
		{"forged relay", IdentityInput{From: addr("", "a@b.example"), FromStrict: true, Forged: []string{"hop 2: bogus"}}, True, "forged-relay"},
		{"no From", IdentityInput{}, True, "no-from"},
		{"aligned and clean", IdentityInput{From: addr("Acme", "news@acme.example"), FromStrict: true, DMARC: "pass", AlignedPass: true}, False, "dmarc-pass"},
		{"nothing known", IdentityInput{From: addr("Acme", "news@acme.example"), FromStrict: true, DMARC: "none"}, Unknown, ""},
		{"a person's initials", IdentityInput{From: addr("Craig R.Hughes", "craig@example.com"), FromStrict: true}, Unknown, ""},
	} {
		id := DetectIdentity(c.in)
		if id.Disguised != c.want {
			t.Errorf("%s: disguised = %v, want %v (%+v)", c.name, id.Disguised, c.want, id.Findings)
		}
		found := c.code == ""
		for _, f := range id.Findings {
			if string(f.Code) == c.code {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no %s finding in %+v", c.name, c.code, id.Findings)
		}
	}
}

func TestCommercialAndFacts(t *testing.T) {
	h := accmail.Header{Fields: []accmail.Field{{Name: "Subject", Value: "ADV: Spring sale"}}}
	c := DetectCommercial(CommercialInput{Header: h, Content: content("Order now and save up to 50%! Only $19.99. Click here.")})
	if c.Likely != True {
		t.Errorf("advert = %+v", c)
	}
	h = accmail.Header{Fields: []accmail.Field{{Name: "Subject", Value: "Re: the build is broken"}, {Name: "List-Post", Value: "<mailto:dev@lists.example.org>"}}}
	c = DetectCommercial(CommercialInput{Header: h, Content: content("The nightly build fails on arm64 since the last merge; the order of init calls changed.")})
	if c.Likely != False {
		t.Errorf("list discussion = %+v", c)
	}
	if v, _ := PostalAddress("Acme Inc., 1600 Amphitheatre Parkway, Mountain View, CA 94043"); v != True {
		t.Error("US address not found")
	}
	for _, a := range []string{"ACME GmbH, Hauptstraße 12, 10115 Berlin", "12 rue de la Paix, 75002 Paris", "PO Box 1234", "10 Downing St, London SW1A 2AA",
		"POSTFACH 1234", "Postbus 51", "HAUPTSTRASSE 12", "CALLE Mayor 5", "PRAÇA da Sé 10", "12 RUE DE LA PAIX"} {
		if v, why := PostalAddress(a); v != True {
			t.Errorf("%q: %v %s", a, v, why)
		}
	}
	if v, _ := PostalAddress("See you at 5 tomorrow, the meeting is in room 12."); v != False {
		t.Error("address found in plain prose")
	}
	if v, _ := AdLabel("ADV: cheap ink", "", ""); v != True {
		t.Error("ADV: label missed")
	}
	if v, _ := SubjectDeceptive("Re: your account", accmail.Header{}); v != True {
		t.Error("fake reply missed")
	}
}

func FuzzParseExpr(f *testing.F) {
	f.Add("commercial and not (consent or soft_opt_in)")
	f.Add("not not (a or b) and c")
	known := map[string]bool{"commercial": true, "consent": true, "soft_opt_in": true, "a": true, "b": true, "c": true}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseExpr(s, known)
		if err != nil {
			return
		}
		// Kleene logic is monotone: settling an unknown fact never turns a
		// breach into compliance or the reverse.
		unknown := n.eval(Facts{})
		for name := range known {
			for _, v := range []Tri{True, False} {
				got := n.eval(Facts{name: {Value: v}})
				if unknown != Unknown && got != unknown {
					t.Fatalf("%q: settling %s=%v changed %v to %v", s, name, v, unknown, got)
				}
			}
		}
	})
}
