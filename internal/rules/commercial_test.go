package rules

import (
	"strings"
	"testing"

	accmail "github.com/accord-antispam/accord/internal/mail"
)

func header(fields ...string) accmail.Header {
	var h accmail.Header
	for i := 0; i+1 < len(fields); i += 2 {
		h.Fields = append(h.Fields, accmail.Field{Name: fields[i], Value: fields[i+1]})
	}
	return h
}

// TestCommercialSevenLanguages: promotions in each language of the
// rulebooks are commercial; personal and service messages are not; few or
// contradicting signals are unknown, never false.
func TestCommercialSevenLanguages(t *testing.T) {
	for _, c := range []struct {
		name    string
		subject string
		text    string
		h       []string
		want    Tri
		signal  string // part of a signal
	}{
		{"pt: the issue's promotion", "🚨 Até 20% de desconto no app!", "Use o cupom APP20 e aproveite.", nil, True, "discount"},
		{"en: sale", "Summer sale", "Save up to 40% on all jackets. Shop now! Free shipping over $50.", nil, True, "discount"},
		{"fr: soldes", "Les soldes continuent", "Jusqu'à -50% sur une sélection. Livraison gratuite dès 30 €. J'en profite", nil, True, "discount"},
		{"de: Rabatt", "Nur heute: 20 % Rabatt", "Mit dem Gutscheincode SOMMER sparen Sie. Jetzt bestellen, versandkostenfrei.", nil, True, "discount"},
		{"es: descuento", "Rebajas de verano", "Hasta un 30% de descuento. Envío gratis. Compra ahora.", nil, True, "discount"},
		{"it: sconto", "Saldi estivi", "Sconto del 25% con il codice sconto ESTATE. Spedizione gratuita. Acquista ora.", nil, True, "discount"},
		{"nl: korting", "Zomeruitverkoop", "Tot 40% korting met kortingscode ZON. Gratis verzending. Bestel nu.", nil, True, "discount"},
		{"pt: price in reais", "Oferta", "Smartphone por apenas R$ 999,90. Frete grátis. Compre já!", nil, True, "price: r$ 999,90"},
		{"en: ESP marks and an offer", "Your weekly picks", "New arrivals are in. Special offer for members.",
			[]string{"Feedback-ID", "123:campaign:esp", "List-Unsubscribe", "<https://esp.example/u>"}, True, "bulk-mail service: Feedback-ID"},
		{"en: personal", "lunch?", "Hi Ana, are we still on for lunch tomorrow? Bob", nil, False, ""},
		{"de: personal", "Treffen", "Hallo Jan, treffen wir uns morgen um zehn? Gruß, Eva", nil, False, ""},
		{"pt: personal", "Reunião", "Oi Rodrigo, podemos remarcar a reunião para quinta? Abraço", nil, False, ""},
		{"en: a list discussion that mentions a price", "Re: which laptop", "The X1 costs $1,299 now, cheaper than last year; I still prefer the T14.",
			[]string{"List-Post", "<mailto:list@lists.example>", "In-Reply-To", "<a@b>"}, Unknown, "against: mailing-list discussion"},
		{"en: only ESP marks", "Your account", "Your statement is ready.", []string{"Feedback-ID", "1:2:3"}, Unknown, "Feedback-ID"},
	} {
		in := CommercialInput{Header: header(append([]string{"Subject", c.subject}, c.h...)...), Content: &accmail.Content{Text: c.text}}
		got := DetectCommercial(in)
		if got.Likely != c.want {
			t.Errorf("%s: likely = %v (score %d, %v), want %v", c.name, got.Likely, got.Score, got.Signals, c.want)
		}
		if c.signal != "" && !strings.Contains(strings.Join(got.Signals, "|"), c.signal) {
			t.Errorf("%s: no signal %q in %v", c.name, c.signal, got.Signals)
		}
	}
}

func TestFindDiscount(t *testing.T) {
	for in, want := range map[string]bool{
		"até 20% de desconto": true, "20% off everything": true, "-30% sur tout": true, "20 % rabatt": true,
		"sconto del 15%": true, "25% korting": true, "hasta un 10% de descuento": true,
		"turnout was 20% lower": false, "cpu at 95%": false, "100%": false,
	} {
		if got := findDiscount(in) != ""; got != want {
			t.Errorf("findDiscount(%q) = %q", in, findDiscount(in))
		}
	}
}
