package rules

import "github.com/accord-antispam/accord/internal/dnsname"

// Phrases by language (ISO 639-1). They are matched in lower case against
// the text a reader sees. Keep them general: they describe how people write
// in each language, not any one sender or corpus.

// optOutPhrases announce a way to stop receiving messages.
var optOutPhrases = map[string][]string{
	"en": {"unsubscribe", "opt out", "opt-out", "optout", "to be removed", "remove me", "to remove your", "removal from",
		"stop receiving", "no longer wish to receive", "no longer want to receive", "do not wish to receive",
		"don't want to receive", "manage your subscription", "email preferences", "e-mail preferences",
		"update your preferences", "off our list", "off this list", "remove yourself", "unsubscribing"},
	"fr": {"désabonner", "désinscrire", "désinscription", "désabonnement", "desabonner", "desinscri", "ne plus recevoir",
		"vous désinscrire", "se retirer de la liste", "désabonnez-vous", "désinscrivez-vous", "pour ne plus recevoir"},
	"de": {"abmelden", "abbestellen", "abmeldung", "austragen", "keine weiteren e-mails", "keine e-mails mehr",
		"newsletter abbestellen", "vom newsletter abmelden"},
	"es": {"darse de baja", "darte de baja", "date de baja", "dese de baja", "dar de baja", "cancelar suscripción", "cancelar su suscripción",
		"cancelar la suscripción", "anular suscripción", "anular la suscripción", "no desea recibir", "no deseas recibir",
		"desuscribirse", "desuscribir", "dejar de recibir"},
	"it": {"disiscriviti", "disiscrizione", "cancellati", "annulla iscrizione", "annullare l'iscrizione", "annulla l'iscrizione",
		"cancella l'iscrizione", "non ricevere più", "non desideri più ricevere", "cancellazione dalla lista"},
	"nl": {"afmelden", "uitschrijven", "meld je af", "meld u af", "schrijf je uit", "schrijf u uit", "af te melden",
		"uit te schrijven", "afmelding"},
	"pt": {"descadastrar", "descadastre", "descadastramento", "cancelar inscrição", "cancelar a inscrição", "cancelar subscrição",
		"não deseja receber", "nao deseja receber", "não quer receber", "remover seu e-mail", "remover o seu",
		"deixar de receber", "não deseja mais receber", "cancelar o recebimento"},
}

// negationsBefore, found shortly before an opt-out wording in its sentence,
// deny it: "there is no way to unsubscribe", "você não pode descadastrar".
var negationsBefore = []string{
	"no way to", "not possible to", "impossible to", "can't", "cannot", "can not", "unable to", "won't be able to",
	"will not be able to", "not able to", "there is no", "no option to", "no longer possible to",
	"impossible de", "pas possible de", "ne pouvez pas", "ne pouvez plus", "aucun moyen de", "il n'est pas possible",
	"nicht möglich", "keine möglichkeit", "können sich nicht", "kann nicht", "können nicht",
	"no es posible", "no puede", "no puedes", "no hay forma de", "no hay manera de", "imposible",
	"non è possibile", "impossibile", "non puoi", "non potete", "non può",
	"niet mogelijk", "kunt niet", "kun je niet", "kunt u niet", "geen manier om", "geen mogelijkheid",
	"não é possível", "nao e possivel", "não pode", "nao pode", "impossível", "não há como", "não tem como",
}

// negationsAfter deny the wording they follow: "unsubscribing is not possible".
var negationsAfter = []string{
	"is not possible", "isn't possible", "is impossible", "not available", "is disabled",
	"n'est pas possible", "est impossible", "ist nicht möglich", "nicht möglich", "no es posible", "no está disponible",
	"non è possibile", "is niet mogelijk", "niet mogelijk", "não é possível", "nao e possivel", "não está disponível",
}

// optOutURLTokens in a link's path or query suggest an opt-out endpoint.
var optOutURLTokens = []string{"unsub", "optout", "opt-out", "opt_out", "remove", "abmelden", "abbestellen", "austragen",
	"desinscri", "d%c3%a9sinscri", "desabon", "d%c3%a9sabon", "baja", "cancelar", "disiscri", "cancellati", "afmelden",
	"uitschrijven", "descadastr", "preferences", "unsubscribe"}

// optOutLocalParts are mailbox names used for opt-out requests.
var optOutLocalParts = []string{"remove", "unsubscribe", "unsub", "optout", "opt-out", "leave", "off", "stop", "delete", "removal",
	"nomore", "baja", "bajas", "cancelar", "desuscribir", "desinscription", "desabonnement", "abmelden", "austragen",
	"afmelden", "uitschrijven", "disiscrizione", "cancellazione", "descadastro", "descadastrar", "remover"}

// replyPhrases describe opting out by replying to the message.
var replyPhrases = []string{"reply with remove", "reply with \"remove\"", "reply with 'remove'", "reply to this email with",
	"reply to this message with", "with remove in the subject", "with \"remove\" in the subject", "remove in the subject",
	"unsubscribe in the subject", "reply with unsubscribe", "reply with stop", "hit reply", "click reply", "reply and type",
	"reply with the word", "type remove", "répondez avec", "répondez à ce message", "répondez à cet e-mail", "antworten sie mit", "antworten sie auf diese",
	"responda con", "responde con", "responda a este", "responde a este", "rispondi con", "rispondi a questa",
	"antwoord met", "beantwoord deze", "responda com", "responda este", "responda a este"}

// offerPhrases are the vocabulary of selling, weighted: 2 for phrases that
// are hardly used outside selling (coupons, free shipping, calls to buy),
// 1 for words that merely lean that way.
var offerPhrases = map[string]map[string]int{
	"en": {"buy now": 2, "order now": 2, "order today": 2, "shop now": 2, "act now": 2, "call now": 2, "call today": 2,
		"special offer": 2, "limited time": 2, "exclusive offer": 2, "offer expires": 2, "% off": 2, "discount": 1,
		"lowest price": 2, "best price": 2, "lowest rate": 2, "promo code": 2, "coupon": 2, "coupon code": 2, "discount code": 2,
		"free shipping": 2, "free delivery": 2, "free trial": 2,
		"money back": 2, "risk free": 2, "risk-free": 2, "satisfaction guaranteed": 2, "guaranteed": 1, "save up to": 2,
		"sign up today": 2, "for a limited": 2, "don't miss": 1, "bonus": 1, "per month": 1, "credit card": 1,
		"special promotion": 2, "no obligation": 2, "no cost": 1, "no fees": 1, "no setup fee": 2, "free quote": 2,
		"make money": 2, "extra money": 2, "extra income": 2, "earn $": 2, "business opportunity": 2, "work from home": 2,
		"home based business": 2, "home-based business": 2, "mortgage": 1, "refinance": 2, "pre-approved": 2, "lose weight": 2,
		"prescription": 1, "order form": 2, "toll free": 1, "toll-free": 1, "unsubscribe": 1, "newsletter": 1, "subscribe": 1,
		"wholesale": 1, "lowest prices": 2, "great deal": 2, "amazing": 1, "revolutionary": 1, "100% free": 2, "for free": 1,
		"buy": 1, "order": 1, "price": 1, "save": 1, "sale": 1, "offer": 1, "products": 1, "customers": 1, "cheap": 1,
		"add to cart": 2, "in stock": 1, "deal": 1, "deals": 1, "black friday": 2, "cyber monday": 2, "clearance": 2},
	"fr": {"offre spéciale": 2, "offre exclusive": 2, "promotion": 1, "promo": 1, "soldes": 2, "réduction": 1, "commandez": 2,
		"achetez": 2, "livraison gratuite": 2, "livraison offerte": 2, "prix": 1, "remise": 1, "profitez": 1, "gratuit": 1,
		"code promo": 2, "bon de réduction": 2, "achetez maintenant": 2, "j'en profite": 2, "je commande": 2, "offre": 1,
		"économisez": 2, "bons plans": 2, "ventes privées": 2},
	"de": {"sonderangebot": 2, "angebot": 1, "angebote": 1, "rabatt": 1, "jetzt bestellen": 2, "jetzt kaufen": 2,
		"versandkostenfrei": 2, "kostenloser versand": 2, "gratis versand": 2, "gutschein": 2, "gutscheincode": 2,
		"rabattcode": 2, "preis": 1, "sparen sie": 2, "kostenlos": 1, "gratis": 1, "jetzt shoppen": 2, "nur heute": 2,
		"aktion": 1, "sale": 1, "zum shop": 2},
	"es": {"oferta": 1, "ofertas": 1, "descuento": 1, "compra ahora": 2, "compre ahora": 2, "cómpralo": 2, "envío gratis": 2,
		"envío gratuito": 2, "promoción": 1, "precio": 1, "aproveche": 1, "aprovecha": 1, "gratis": 1, "cupón": 2,
		"código de descuento": 2, "código promocional": 2, "rebajas": 2, "ahorra": 2},
	"it": {"offerta": 1, "offerte": 1, "sconto": 1, "sconti": 1, "acquista ora": 2, "acquista subito": 2, "spedizione gratuita": 2,
		"promozione": 1, "prezzo": 1, "approfitta": 1, "codice sconto": 2, "coupon": 2, "saldi": 2, "risparmia": 2},
	"nl": {"aanbieding": 1, "aanbiedingen": 1, "korting": 1, "bestel nu": 2, "koop nu": 2, "gratis verzending": 2,
		"gratis bezorging": 2, "prijs": 1, "kortingscode": 2, "actie": 1, "uitverkoop": 2, "bespaar": 2, "shop nu": 2},
	"pt": {"desconto": 1, "descontos": 1, "compre agora": 2, "compre já": 2, "frete grátis": 2, "frete gratis": 2,
		"entrega grátis": 2, "promoção": 1, "promoções": 1, "preço": 1, "aproveite": 1, "grátis": 1, "cupom": 2,
		"cupom de desconto": 2, "código promocional": 2, "oferta": 1, "ofertas": 1, "por apenas": 2,
		"economize": 2, "liquidação": 2, "black friday": 2},
	"ru": {"скидка": 1, "бесплатно": 1, "купить": 1, "цена": 1, "акция": 1, "закажите": 2},
	"zh": {"免費": 1, "免费": 1, "優惠": 1, "优惠": 1, "折扣": 1, "特價": 1, "特价": 1, "購買": 1, "购买": 1, "價格": 1, "价格": 1, "創業": 1, "赚钱": 2, "賺錢": 2},
}

// discountWords, near a percentage, make it a discount rather than a
// statistic.
var discountWords = []string{"off", "discount", "save", "sale", "up to", "desconto", "até", "réduction", "remise", "jusqu'à",
	"rabatt", "reduziert", "bis zu", "sparen", "descuento", "hasta", "rebaja", "sconto", "fino al", "risparmi", "korting",
	"tot ", "promo", "cashback", "cupom", "coupon", "gutschein"}

// ctaPhrases are calls to action.
var ctaPhrases = []string{"click here", "click below", "visit our", "visit us", "shop now", "buy now", "order now",
	"cliquez ici", "achetez maintenant", "j'en profite", "klicken sie hier", "jetzt kaufen", "jetzt bestellen", "haga clic",
	"compra ahora", "compre ahora", "clicca qui", "acquista ora", "klik hier", "bestel nu", "koop nu", "clique aqui",
	"compre agora", "compre já", "aproveite agora", "saiba mais"}

// adLabels identify advertising in a subject line.
var adLabels = []string{"adv:", "adv ", "[adv]", "(adv)", "advertisement", "werbung", "publicité", "publicidad", "pubblicità",
	"reclame", "publicidade", "[ad]", "[ad] "}

// adBodyPhrases identify advertising in the text.
var adBodyPhrases = []string{"this is an advertisement", "this email is an advertisement", "this e-mail is an advertisement",
	"this message is an advertisement", "this is a commercial message", "advertisement:", "cette publicité", "dies ist eine werbung"}

// IsFreemail reports whether the organizational domain is a free mailbox provider.
func IsFreemail(orgDomain string) bool { return dnsname.MailboxProvider(orgDomain) }
