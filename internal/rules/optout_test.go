package rules

import (
	"strings"
	"testing"

	accmail "github.com/accord-antispam/accord/internal/mail"
)

// optOutCase is one message text in one language: its opt-out wording, and
// what the detection must make of it.
type optOutCase struct {
	lang, name, text string
	urls             []accmail.URL
	emails           []string
	reply            string
	want             Tri
	kind, via        string // of the first body target; "" when none is expected
	why              string // part of the reason
}

func href(text, u string) accmail.URL {
	h := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	h, _, _ = strings.Cut(h, "/")
	return accmail.URL{URL: u, Host: h, Source: "href", Text: text}
}

// TestOptOutSevenLanguages: in each language of the rulebooks, the target
// is the instruction's own — its anchor text, the link right after the
// wording, an opt-out mailbox, the words of its URL — a reply instruction is
// its own kind, and a denied opt-out is false with the reason.
func TestOptOutSevenLanguages(t *testing.T) {
	shop := href("Visit our shop", "https://shop.example/new")
	var cases []optOutCase
	for _, l := range []struct {
		lang                                        string
		anchorText, anchor, after, generic, negated string
		mailbox, mailboxText, reply, urlText        string
	}{
		{"en", "Unsubscribe", "You receive this newsletter as a customer.", "To unsubscribe from these e-mails click here.", "here",
			"There is no way to unsubscribe from these e-mails.", "remove@news.example", "To be removed, write to remove@news.example.",
			"To unsubscribe reply with REMOVE in the subject.", "Manage your e-mails"},
		{"fr", "Se désabonner", "Vous recevez cette lettre en tant que client.", "Pour vous désinscrire, cliquez ici.", "ici",
			"Il n'est pas possible de vous désinscrire de ces messages.", "desinscription@news.example",
			"Pour ne plus recevoir nos offres, écrivez à desinscription@news.example.",
			"Pour vous désinscrire, répondez avec STOP.", "Gérer mes e-mails"},
		{"de", "Abmelden", "Sie erhalten diesen Newsletter als Kunde.", "Newsletter abbestellen: hier klicken", "hier klicken",
			"Eine Abmeldung ist nicht möglich.", "abmelden@news.example", "Zum Abmelden schreiben Sie an abmelden@news.example.",
			"Zum Abmelden antworten Sie mit STOP.", "E-Mail-Einstellungen"},
		{"es", "Darse de baja", "Recibe este boletín como cliente.", "Si desea darse de baja, pulse aquí.", "aquí",
			"No es posible darse de baja de estos correos.", "baja@news.example", "Para darte de baja escribe a baja@news.example.",
			"Para darse de baja responda con BAJA.", "Gestionar mis correos"},
		{"it", "Disiscriviti", "Ricevi questa newsletter come cliente.", "Per la disiscrizione clicca qui.", "qui",
			"Non è possibile la disiscrizione da questi messaggi.", "cancellazione@news.example",
			"Per la cancellazione dalla lista scrivi a cancellazione@news.example.",
			"Per la disiscrizione rispondi con STOP.", "Gestisci le e-mail"},
		{"nl", "Afmelden", "Je ontvangt deze nieuwsbrief als klant.", "Klik hier om je af te melden.", "hier",
			"Afmelden is niet mogelijk.", "afmelden@news.example", "Om je af te melden stuur je een e-mail naar afmelden@news.example.",
			"Om je af te melden antwoord met STOP.", "Beheer je e-mails"},
		{"pt", "Descadastrar", "Você recebe este boletim como cliente.", "Para descadastrar seu e-mail clique aqui.", "aqui",
			"Não é possível descadastrar este e-mail.", "descadastro@news.example",
			"Para deixar de receber escreva para descadastro@news.example.",
			"Para descadastrar responda com SAIR.", "Gerenciar e-mails"},
	} {
		cases = append(cases,
			optOutCase{lang: l.lang, name: "anchor text", text: l.anchor + "\n" + l.anchorText, urls: []accmail.URL{shop, href(l.anchorText, "https://news.example/x?t=1")},
				want: True, kind: "https", via: "anchor"},
			optOutCase{lang: l.lang, name: "link right after the wording", text: l.after, urls: []accmail.URL{shop, href(l.generic, "https://news.example/x?t=2")},
				want: True, kind: "https", via: "near-phrase"},
			optOutCase{lang: l.lang, name: "shop link before the wording is not the target", text: "Visit our shop\n" + l.after, urls: []accmail.URL{shop},
				want: Unknown, why: "gives no address or link"},
			optOutCase{lang: l.lang, name: "opt-out mailbox", text: l.mailboxText, emails: []string{l.mailbox},
				want: True, kind: "mailto", via: "mailbox"},
			optOutCase{lang: l.lang, name: "words of the URL", text: "…", urls: []accmail.URL{href(l.urlText, "https://news.example/unsubscribe?u=1")},
				want: True, kind: "https", via: "url"},
			optOutCase{lang: l.lang, name: "reply instruction", text: l.reply, reply: "offers@news.example",
				want: Unknown, kind: "reply", via: "instruction", why: "reply to offers@news.example"},
			optOutCase{lang: l.lang, name: "negation", text: l.negated, urls: []accmail.URL{shop},
				want: False, why: "no way to opt out"},
		)
	}
	for _, c := range cases {
		checkOptOut(t, c)
	}
}

// TestOptOutIssueCases are the cases reported against the earlier detector.
func TestOptOutIssueCases(t *testing.T) {
	for _, c := range []optOutCase{
		{lang: "en", name: "There is no way to unsubscribe", text: "There is no way to unsubscribe from our partners' offers.", want: False, why: "no way to opt out"},
		{lang: "en", name: "you can't opt out", text: "Sorry, you can't opt out of these notices.", urls: []accmail.URL{href("our site", "https://shop.example/")}, want: False, why: "can't"},
		{lang: "pt", name: "não é possível", text: "Não é possível descadastrar este endereço.", want: False, why: "não é possível"},
		{lang: "en", name: "shop link before a reply instruction", text: "Shop the sale at https://shop.example/sale\nTo unsubscribe reply with REMOVE.",
			urls: []accmail.URL{{URL: "https://shop.example/sale", Host: "shop.example", Source: "text"}}, reply: "deals@shop.example",
			want: Unknown, kind: "reply", via: "instruction"},
		{lang: "nl", name: "om je af te melden", text: "Klik op de link om je af te melden: https://nieuws.example/a?id=7",
			urls: []accmail.URL{{URL: "https://nieuws.example/a?id=7", Host: "nieuws.example", Source: "text"}}, want: True, kind: "https", via: "near-phrase"},
		{lang: "es", name: "escribe a baja@", text: "Si no quieres más correos escribe a baja@tienda.example", emails: []string{"baja@tienda.example"},
			want: True, kind: "mailto", via: "mailbox"},
		{lang: "en", name: "no-reply address cannot take a reply", text: "To unsubscribe reply with REMOVE.", reply: "no-reply@shop.example", want: False, why: "takes no replies"},
		{lang: "en", name: "an opt-out denied for one kind and offered for another", text: "You cannot unsubscribe from security notices. To unsubscribe from offers click here.",
			urls: []accmail.URL{href("here", "https://shop.example/p?x=1")}, want: True, kind: "https", via: "near-phrase"},
	} {
		checkOptOut(t, c)
	}
}

func checkOptOut(t *testing.T, c optOutCase) {
	t.Helper()
	o := DetectOptOut(OptOutInput{Content: &accmail.Content{Text: c.text, URLs: c.urls, Emails: c.emails}, ReplyAddress: c.reply})
	label := c.lang + ": " + c.name
	if o.Valid != c.want {
		t.Errorf("%s: valid = %v, want %v (%s; body %+v; phrases %+v)", label, o.Valid, c.want, o.Why, o.Body, o.Phrases)
		return
	}
	if c.why != "" && !strings.Contains(o.Why, c.why) {
		t.Errorf("%s: why %q does not say %q", label, o.Why, c.why)
	}
	if c.kind == "" {
		return
	}
	if len(o.Body) == 0 || o.Body[0].Kind != c.kind || o.Body[0].Via != c.via {
		t.Errorf("%s: body targets %+v, want first %s via %s", label, o.Body, c.kind, c.via)
	}
	for _, b := range o.Body {
		if strings.Contains(b.Target, "shop.example/new") || strings.Contains(b.Target, "shop.example/sale") {
			t.Errorf("%s: the shop link was taken as the opt-out: %+v", label, b)
		}
	}
	found := false
	for _, p := range o.Phrases {
		found = found || p.Language == c.lang
	}
	if !found && c.via != "url" && c.via != "mailbox" {
		t.Errorf("%s: no %s wording found: %+v", label, c.lang, o.Phrases)
	}
}
