package rules

import (
	"path"
	"strings"

	accmail "github.com/accord-antispam/accord/internal/mail"
)

// Phishing says whether a message looks like phishing: an impersonation
// (a brand or organisation named on a domain it does not own, a look-alike
// domain, a display name showing another address, an author domain failing
// DMARC) together with a request for credentials or payment (a form, a
// local HTML page attached, a link to sign in, verify an account or pay).
// It is a pointer for an authority, not a conviction: it rests on
// heuristics and always needs human review.
type Phishing struct {
	Likely Tri      `json:"likely"`
	Brand  string   `json:"brand"` // The brand impersonated, when known.
	Why    []string `json:"why"`
}

// PhishingInput is what phishing detection reads.
type PhishingInput struct {
	Identity Identity
	Content  *accmail.Content
}

// impersonation findings: what shows the sender pretends to be someone else.
var impersonation = map[FindingCode]bool{
	FindBrandImpersonation: true, FindLookAlikeDomain: true, FindDisplayNameAddress: true,
	FindDisplayNameDomain: true, FindDMARCFail: true,
}

// DetectPhishing combines the identity findings with the content's requests.
func DetectPhishing(in PhishingInput) Phishing {
	out := Phishing{Brand: in.Identity.Brand, Why: []string{}}
	var imp string
	for _, f := range in.Identity.Findings {
		if f.Strength == Strong && impersonation[f.Code] {
			imp = string(f.Code) + ": " + f.Detail
			break
		}
	}
	req := credentialRequest(in.Content)
	if imp != "" {
		out.Why = append(out.Why, "impersonation: "+imp)
	}
	if req != "" {
		out.Why = append(out.Why, "asks for credentials or payment: "+req)
	}
	switch {
	case imp != "" && req != "":
		out.Likely = True
	case imp == "" && req == "":
		out.Likely = False
		out.Why = append(out.Why, "no impersonation and no request for credentials or payment found")
	default:
		out.Likely = Unknown
		if imp == "" {
			out.Why = append(out.Why, "no impersonation found")
		} else {
			out.Why = append(out.Why, "no request for credentials or payment found")
		}
	}
	return out
}

// credentialWords are the vocabulary of asking someone to sign in, verify
// an account or pay, in the seven languages of the rulebooks; matched as
// words in link texts and link paths, and as phrases in the text.
var credentialWords = []string{
	// en
	"login", "log in", "log-in", "sign in", "signin", "sign-in", "logon", "verify", "verification", "validate",
	"unlock", "reactivate", "restore access", "password", "passcode", "update payment", "update billing",
	"billing", "payment", "pay now", "seed phrase", "recovery phrase", "secret phrase", "connect wallet",
	"confirm your account", "confirm your identity", "confirm your details", "update your account",
	"update your details", "update your information", "account suspended", "account locked",
	// fr
	"se connecter", "connexion", "identifiez-vous", "vérifier", "vérifiez", "mot de passe", "paiement",
	"mettre à jour", "confirmer votre",
	// de
	"einloggen", "anmeldung", "login-daten", "bestätigen", "verifizieren", "passwort", "kennwort",
	"zahlung", "zahlungsdaten", "kontodaten", "aktualisieren", "sicherheits-pin",
	// es
	"iniciar sesión", "inicie sesión", "verificar", "verifique", "contraseña", "pago", "actualizar sus datos",
	"confirmar su",
	// it
	"accedi", "accesso", "verifica", "conferma", "aggiorna", "pagamento",
	// nl
	"inloggen", "log in", "bevestigen", "verifiëren", "wachtwoord", "betaling", "betalen", "gegevens bijwerken",
	// pt
	"entrar", "acessar", "acesse", "verificar", "verifique", "confirme", "senha", "pagamento", "atualizar",
	"atualize", "regularizar", "desbloquear",
}

// credentialRequest returns what in the content asks for credentials or
// payment, or "".
func credentialRequest(c *accmail.Content) string {
	if c == nil {
		return ""
	}
	if c.HTML.Forms > 0 {
		return "the message contains a form"
	}
	for _, a := range c.Attachments {
		ext := strings.ToLower(path.Ext(a.Name))
		if ext == ".html" || ext == ".htm" || ext == ".shtml" || ext == ".xhtml" || ext == ".svg" || a.DetectedType == "text/html" {
			return "an attached web page (" + orNone(a.Name) + "), a login page opened from the disk"
		}
	}
	for _, u := range c.URLs {
		if u.Source != "href" && u.Source != "text" {
			continue
		}
		if w := credentialWord(strings.ToLower(u.Text)); w != "" {
			return "a link reading \"" + clipText(u.Text, 60) + "\" to " + u.Host
		}
		p := strings.ToLower(u.URL)
		if i := strings.Index(p, "://"); i >= 0 {
			p = p[i+3:]
		}
		if i := strings.IndexByte(p, '/'); i >= 0 {
			if w := credentialWord(pathSpaces.Replace(p[i:])); w != "" {
				return "a link to " + u.Host + " whose path says \"" + w + "\""
			}
		}
	}
	if len(c.URLs) > 0 {
		t := ""
		if len(c.Text)+1+len(c.HTMLText) <= 64<<10 {
			t = c.Lower() // lower-cased once for every check
		} else {
			t = strings.ToLower(headTail(c.Text+"\n"+c.HTMLText, 64<<10))
		}
		if w := credentialWord(t); w != "" {
			return "the text asks to \"" + w + "\" and gives a link"
		}
	}
	return ""
}

// credentialWord returns the first credential word that s has (a phrase
// that starts with a word counts only where s has that whole word), or "".
func credentialWord(s string) string {
	if k := credentialIndex.first(s, false); k >= 0 {
		return credentialWords[k]
	}
	return ""
}

var credentialIndex = newPhraseIndex(credentialWords)

// pathSpaces reads a link's path as words: its separators become spaces.
var pathSpaces = strings.NewReplacer("-", " ", "_", " ", "/", " ", ".", " ")

func clipText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
