package privacy

import "strings"

// loginForms are the forms of a person's name that a login of the common
// shapes gives when nothing else names them (no display name anywhere, as
// in a mail known only by its Delivered-To): a spam greets "jdupont@" as
// "DUPONT" and links to "/inv/Jean-Dupont/".
//
//   - One run of letters ("jdupont", "dupontj", digits aside:
//     "jdupont75"): initial and surname, or surname and initial. Which
//     one cannot be told without a dictionary of names, so both readings
//     give their surname — the letters without the first, and without
//     the last ("dupont" and "jdupon" for "jdupont"): a reading that is
//     no name is a word no text holds, and cutting it costs nothing.
//   - An initial and a surname apart ("k.nguyen", "nguyen_k"): the
//     surname is already one of the login's words; the two joined, either
//     way round and with any of a login's separators ("knguyen",
//     "nguyenk", "k-nguyen"), are the forms a link writes them in
//     (joined also go into joined, found inside a longer word as a full
//     name's are: "knguyen2026").
//
// Names are matched as words wherever the people are cut — subjects,
// links, evidence —, so a wrong surname costs a partner a word of a
// subject or a link's path. Two bounds keep that cost small:
//
//   - a role or generic login names a desk, not a person (roleLogin:
//     "sales" would give "sale", "orders" "order", "alerts" "alert",
//     words of every spam's subject); it gives no name, and neither is a
//     derived surname that is such a word ("xsales");
//   - a derived surname shorter than four letters gives none: "jdoe"
//     would give "doe", and three letters are too many words and
//     syllables ("art", "ion", "ing") to cut wherever they stand as a
//     word, and too little to say who the person is.
//
// A first name run into the surname ("jeandupont") gives neither: its
// split is unknown, and the login itself is cut wherever it stands.
func loginForms(lp string) (names, joined []string) {
	words := strings.FieldsFunc(lp, func(r rune) bool { return !isLetter(r) })
	for _, w := range words {
		for _, r := range w {
			if unspaced(r) {
				return nil, nil // Han, kana and Hangul logins have no initials.
			}
		}
	}
	switch len(words) {
	case 1:
		w := []rune(words[0])
		if len(w) < 5 || roleLogin(words[0]) {
			return nil, nil
		}
		for _, s := range []string{string(w[1:]), string(w[:len(w)-1])} {
			if !roleLogin(s) {
				names = append(names, s)
			}
		}
	case 2:
		a, b := []rune(words[0]), []rune(words[1])
		var initial, surname string
		switch {
		case len(a) == 1 && len(b) >= 4:
			initial, surname = string(a), string(b)
		case len(b) == 1 && len(a) >= 4:
			initial, surname = string(b), string(a)
		default:
			return nil, nil
		}
		if roleLogin(surname) {
			return nil, nil
		}
		joined = []string{initial + surname, surname + initial}
		names = append(names, joined...)
		for _, sep := range []string{".", "-", "_"} {
			names = append(names, initial+sep+surname, surname+sep+initial)
		}
	}
	return names, joined
}

// roleLogin reports whether a login (or a word derived from one) is a
// role or generic word rather than a person's: the words display names use
// for nobody (commonWords) and the desks' logins of RFC 2142 and of
// every firm's site, singular and plural, in English and French.
func roleLogin(w string) bool { return commonWords[w] || roleLogins[w] }

var roleLogins = map[string]bool{
	"administrator": true, "administration": true, "contacts": true, "enquiries": true, "enquiry": true, "inquiries": true,
	"inquiry": true, "donotreply": true, "newsletters": true, "services": true, "supports": true, "helpdesk": true,
	"hostmaster": true, "invoice": true, "invoices": true, "payment": true, "payments": true, "finance": true,
	"accounting": true, "updates": true, "update": true, "alert": true, "notification": true, "notify": true,
	"careers": true, "career": true, "jobs": true, "press": true, "media": true, "events": true, "event": true,
	"booking": true, "bookings": true, "reservation": true, "reservations": true, "feedback": true, "reception": true,
	"legal": true, "privacy": true, "compliance": true, "shop": true, "store": true, "client": true, "clients": true,
	"partner": true, "partners": true, "member": true, "deals": true, "deal": true, "offers": true, "offer": true,
	"promo": true, "promotions": true, "promotion": true, "ticket": true, "tickets": true, "report": true,
	"reports": true, "system": true, "robot": true, "tech": true, "technical": true, "test": true, "tester": true,
	"hello": true, "welcome": true, "message": true, "messages": true, "letter": true, "letters": true,
	"subscribe": true, "subscription": true, "mailbox": true, "inbox": true, "root": true, "spam": true,
	// French desks.
	"accueil": true, "bonjour": true, "commercial": true, "commande": true, "commandes": true, "compta": true,
	"comptabilite": true, "direction": true, "facture": true, "factures": true, "facturation": true, "ventes": true,
	"vente": true, "secretariat": true, "service-client": true, "serviceclient": true, "clientele": true,
	"courrier": true, "recrutement": true, "informations": true, "information": true, "renseignements": true,
	"assistance": true, "boutique": true, "mairie": true, "reponse": true, "contactez": true,
}
