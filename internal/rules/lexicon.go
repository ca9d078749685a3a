package rules

// Phrases by language (ISO 639-1). They are matched in lower case against
// the text a reader sees. Keep them general: they describe how people write
// in each language, not any one sender or corpus.

// optOutPhrases announce a way to stop receiving messages.
var optOutPhrases = map[string][]string{
	"en": {"unsubscribe", "opt out", "opt-out", "optout", "to be removed", "remove me", "to remove your", "removal from",
		"stop receiving", "no longer wish to receive", "no longer want to receive", "do not wish to receive",
		"don't want to receive", "manage your subscription", "email preferences", "e-mail preferences",
		"update your preferences", "off our list", "off this list", "remove yourself"},
	"fr": {"désabonner", "désinscrire", "désinscription", "désabonnement", "desabonner", "desinscri", "ne plus recevoir",
		"vous désinscrire", "se retirer de la liste"},
	"de": {"abmelden", "abbestellen", "abmeldung", "austragen", "keine weiteren e-mails", "keine e-mails mehr"},
	"es": {"darse de baja", "darte de baja", "date de baja", "dese de baja", "cancelar suscripción", "cancelar su suscripción",
		"cancelar la suscripción", "anular suscripción", "no desea recibir", "no deseas recibir"},
	"it": {"disiscriviti", "disiscrizione", "cancellati", "annulla iscrizione", "annullare l'iscrizione", "non ricevere più",
		"cancellazione dalla lista"},
	"nl": {"afmelden", "uitschrijven", "meld je af", "meld u af", "schrijf je uit", "schrijf u uit"},
	"pt": {"descadastrar", "descadastre", "descadastramento", "cancelar inscrição", "cancelar a inscrição", "cancelar subscrição",
		"não deseja receber", "nao deseja receber", "não quer receber", "remover seu e-mail", "remover o seu"},
}

// optOutURLTokens in a link's path or query suggest an opt-out endpoint.
var optOutURLTokens = []string{"unsub", "optout", "opt-out", "opt_out", "remove", "abmelden", "austragen", "desinscri",
	"desabon", "baja", "disiscri", "cancellati", "afmelden", "uitschrijven", "descadastr", "preferences"}

// optOutLocalParts are mailbox names used for opt-out requests.
var optOutLocalParts = []string{"remove", "unsubscribe", "unsub", "optout", "opt-out", "leave", "off", "stop", "delete", "removal", "nomore"}

// replyPhrases describe opting out by replying.
var replyPhrases = []string{"reply with remove", "reply with \"remove\"", "reply with 'remove'", "reply to this email with",
	"reply to this message with", "with remove in the subject", "with \"remove\" in the subject", "remove in the subject",
	"unsubscribe in the subject", "reply with unsubscribe", "reply with stop", "répondez avec", "antworten sie mit"}

// offerPhrases are the vocabulary of selling, weighted: 2 for phrases that
// are hardly used outside selling, 1 for words that merely lean that way.
var offerPhrases = map[string]map[string]int{
	"en": {"buy now": 2, "order now": 2, "order today": 2, "shop now": 2, "act now": 2, "call now": 2, "call today": 2,
		"special offer": 2, "limited time": 2, "exclusive offer": 2, "offer expires": 2, "% off": 2, "discount": 1,
		"lowest price": 2, "best price": 2, "lowest rate": 2, "promo code": 2, "coupon": 1, "free shipping": 2, "free trial": 2,
		"money back": 2, "risk free": 2, "risk-free": 2, "satisfaction guaranteed": 2, "guaranteed": 1, "save up to": 2,
		"sign up today": 2, "for a limited": 2, "don't miss": 1, "bonus": 1, "per month": 1, "credit card": 1,
		"special promotion": 2, "no obligation": 2, "no cost": 1, "no fees": 1, "no setup fee": 2, "free quote": 2,
		"make money": 2, "extra money": 2, "extra income": 2, "earn $": 2, "business opportunity": 2, "work from home": 2,
		"home based business": 2, "home-based business": 2, "mortgage": 1, "refinance": 2, "pre-approved": 2, "lose weight": 2,
		"prescription": 1, "order form": 2, "toll free": 1, "toll-free": 1, "unsubscribe": 1, "newsletter": 1, "subscribe": 1,
		"wholesale": 1, "lowest prices": 2, "great deal": 2, "amazing": 1, "revolutionary": 1, "100% free": 2, "for free": 1,
		"buy": 1, "order": 1, "price": 1, "save": 1, "sale": 1, "offer": 1, "products": 1, "customers": 1, "cheap": 1},
	"fr": {"offre spéciale": 2, "offre exclusive": 2, "promotion": 1, "soldes": 2, "réduction": 1, "commandez": 2,
		"achetez": 2, "livraison gratuite": 2, "prix": 1, "remise": 1, "profitez": 1, "gratuit": 1},
	"de": {"sonderangebot": 2, "angebot": 1, "rabatt": 1, "jetzt bestellen": 2, "jetzt kaufen": 2, "versandkostenfrei": 2,
		"gutschein": 1, "preis": 1, "sparen sie": 2, "kostenlos": 1, "gratis": 1},
	"es": {"oferta": 1, "descuento": 1, "compra ahora": 2, "compre ahora": 2, "envío gratis": 2, "promoción": 1, "precio": 1,
		"aproveche": 1, "gratis": 1},
	"it": {"offerta": 1, "sconto": 1, "acquista ora": 2, "spedizione gratuita": 2, "promozione": 1, "prezzo": 1, "approfitta": 1},
	"nl": {"aanbieding": 1, "korting": 1, "bestel nu": 2, "koop nu": 2, "gratis verzending": 2, "prijs": 1},
	"pt": {"desconto": 1, "compre agora": 2, "frete grátis": 2, "promoção": 1, "preço": 1, "aproveite": 1, "grátis": 1},
	"ru": {"скидка": 1, "бесплатно": 1, "купить": 1, "цена": 1, "акция": 1, "закажите": 2},
	"zh": {"免費": 1, "免费": 1, "優惠": 1, "优惠": 1, "折扣": 1, "特價": 1, "特价": 1, "購買": 1, "购买": 1, "價格": 1, "价格": 1, "創業": 1, "赚钱": 2, "賺錢": 2},
}

// ctaPhrases are calls to action.
var ctaPhrases = []string{"click here", "click below", "visit our", "visit us", "cliquez ici", "klicken sie hier", "haga clic",
	"clicca qui", "klik hier", "clique aqui"}

// adLabels identify advertising in a subject line.
var adLabels = []string{"adv:", "adv ", "[adv]", "(adv)", "advertisement", "werbung", "publicité", "publicidad", "pubblicità",
	"reclame", "publicidade", "[ad]", "[ad] "}

// adBodyPhrases identify advertising in the text.
var adBodyPhrases = []string{"this is an advertisement", "this email is an advertisement", "this e-mail is an advertisement",
	"this message is an advertisement", "this is a commercial message", "advertisement:", "cette publicité", "dies ist eine werbung"}

// freemailDomains are organizational domains of free mailbox providers.
var freemailDomains = map[string]bool{
	"gmail.com": true, "googlemail.com": true, "yahoo.com": true, "yahoo.co.uk": true, "yahoo.fr": true, "yahoo.de": true,
	"yahoo.es": true, "yahoo.it": true, "ymail.com": true, "rocketmail.com": true, "hotmail.com": true, "hotmail.co.uk": true,
	"hotmail.fr": true, "hotmail.de": true, "hotmail.it": true, "hotmail.es": true, "outlook.com": true, "live.com": true,
	"msn.com": true, "aol.com": true, "aim.com": true, "mail.com": true, "gmx.com": true, "gmx.net": true, "gmx.de": true,
	"web.de": true, "yandex.ru": true, "yandex.com": true, "mail.ru": true, "inbox.ru": true, "list.ru": true, "bk.ru": true,
	"protonmail.com": true, "proton.me": true, "icloud.com": true, "me.com": true, "mac.com": true, "zoho.com": true,
	"qq.com": true, "163.com": true, "126.com": true, "sina.com": true, "sohu.com": true, "laposte.net": true,
	"orange.fr": true, "wanadoo.fr": true, "free.fr": true, "sfr.fr": true, "libero.it": true, "virgilio.it": true,
	"tiscali.it": true, "rediffmail.com": true, "excite.com": true, "lycos.com": true, "juno.com": true,
	"netzero.net": true, "earthlink.net": true, "netscape.net": true, "usa.net": true, "hushmail.com": true,
	"tutanota.com": true, "fastmail.com": true, "t-online.de": true, "seznam.cz": true, "wp.pl": true, "o2.pl": true,
	"terra.com.br": true, "uol.com.br": true, "bol.com.br": true, "naver.com": true, "hanmail.net": true, "daum.net": true,
}

// IsFreemail reports whether the organizational domain is a free mailbox provider.
func IsFreemail(orgDomain string) bool { return freemailDomains[orgDomain] }
