package rules

import (
	"testing"

	accmail "github.com/accord-antispam/accord/internal/mail"
)

func TestPhishing(t *testing.T) {
	imp := Identity{Disguised: True, Brand: "PayPal", Findings: []Finding{{FindBrandImpersonation, Strong, "the display name names PayPal but …"}}}
	clean := Identity{Disguised: False, Findings: []Finding{{FindDMARCPass, Clears, "passes"}}}
	link := func(text, u string) *accmail.Content {
		return &accmail.Content{Text: "Dear customer", URLs: []accmail.URL{{URL: u, Host: "x.example", Source: "href", Text: text}}}
	}
	for _, c := range []struct {
		name string
		in   PhishingInput
		want Tri
	}{
		{"impersonation and a sign-in link", PhishingInput{imp, link("Sign in to your account", "https://x.example/a")}, True},
		{"impersonation and a verify path", PhishingInput{imp, link("here", "https://x.example/account/verify?id=1")}, True},
		{"impersonation and a Portuguese request", PhishingInput{imp, &accmail.Content{Text: "Atualize seus dados agora", URLs: []accmail.URL{{URL: "https://x.example/", Host: "x.example", Source: "href", Text: "clique"}}}}, True},
		{"impersonation and a form", PhishingInput{imp, &accmail.Content{HTML: accmail.HTMLInfo{Forms: 1}}}, True},
		{"impersonation and an attached web page", PhishingInput{imp, &accmail.Content{Attachments: []accmail.Attachment{{Name: "Invoice.htm", ContentType: "application/octet-stream"}}}}, True},
		{"impersonation, nothing asked", PhishingInput{imp, link("our shop", "https://x.example/shoes")}, Unknown},
		{"a genuine sender asking to sign in", PhishingInput{clean, link("Log in", "https://x.example/login")}, Unknown},
		{"neither", PhishingInput{clean, link("our shop", "https://x.example/shoes")}, False},
	} {
		p := DetectPhishing(c.in)
		if p.Likely != c.want {
			t.Errorf("%s: likely = %v, want %v (%v)", c.name, p.Likely, c.want, p.Why)
		}
		if len(p.Why) == 0 {
			t.Errorf("%s: no reason given", c.name)
		}
	}
}
