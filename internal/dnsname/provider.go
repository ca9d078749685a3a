package dnsname

// MailboxProvider reports whether an organizational domain is a large
// free mailbox provider's (gmail.com, orange.fr, web.de, me.com, …): an
// address there says nothing of who holds it beyond the address itself.
// The identity rules ask it about a sender's domain; the redaction of
// people's domains asks it too, because such a domain — or its name
// ("gmail", "free") in a link — names millions of people, not one, and
// is what a phish impersonates.
func MailboxProvider(orgDomain string) bool { return mailboxProviders[orgDomain] }

// mailboxProviders are organizational domains of mailbox providers — the
// free ones, and the national telephone and cable companies' and
// regional names a desk in Europe, North America or Australia sees in its
// complaints — whose users are anyone: such a domain names no spam run
// (a spammer's account there is signed with the provider's key, so its
// DKIM passes aligned) and no single person. Each is its own
// organizational domain, as OrgDomain gives it.
var mailboxProviders = map[string]bool{
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
	// GMX, Yahoo, Microsoft (Hotmail, Outlook, Live), AOL and Zoho under their regional names.
	"gmx.fr": true, "gmx.at": true, "gmx.ch": true, "gmx.us": true, "gmx.co.uk": true, "gmx.es": true, "yahoo.ca": true,
	"yahoo.com.au": true, "yahoo.co.nz": true, "yahoo.co.in": true, "yahoo.co.jp": true, "yahoo.com.br": true,
	"yahoo.com.mx": true, "yahoo.com.ar": true, "yahoo.gr": true, "yahoo.ie": true, "yahoo.se": true, "yahoo.dk": true,
	"yahoo.no": true, "yahoo.pl": true, "yahoo.ro": true, "yahoo.co.za": true, "yahoo.com.sg": true,
	"yahoo.com.hk": true, "yahoo.com.tw": true, "yahoo.co.id": true, "yahoo.com.ph": true, "yahoo.com.vn": true,
	"hotmail.ca": true, "hotmail.com.au": true, "hotmail.be": true, "hotmail.nl": true, "hotmail.se": true,
	"hotmail.no": true, "hotmail.dk": true, "hotmail.fi": true, "hotmail.gr": true, "hotmail.co.jp": true,
	"hotmail.com.br": true, "hotmail.com.ar": true, "hotmail.com.tr": true, "outlook.fr": true, "outlook.de": true,
	"outlook.it": true, "outlook.es": true, "outlook.be": true, "outlook.at": true, "outlook.ie": true,
	"outlook.pt": true, "outlook.dk": true, "outlook.cz": true, "outlook.sk": true, "outlook.hu": true,
	"outlook.com.gr": true, "outlook.lv": true, "outlook.jp": true, "outlook.com.au": true, "outlook.co.nz": true,
	"outlook.com.br": true, "outlook.com.ar": true, "outlook.cl": true, "outlook.in": true, "outlook.kr": true,
	"outlook.sa": true, "outlook.co.il": true, "outlook.com.tr": true, "live.co.uk": true, "live.fr": true,
	"live.de": true, "live.it": true, "live.nl": true, "live.be": true, "live.ca": true, "live.com.au": true,
	"live.se": true, "live.no": true, "live.dk": true, "live.at": true, "live.ie": true, "live.com.mx": true,
	"live.com.ar": true, "live.cl": true, "live.jp": true, "live.in": true, "live.ru": true, "live.com.pt": true,
	"live.co.za": true, "windowslive.com": true, "aol.co.uk": true, "aol.fr": true, "aol.de": true,
	"zohomail.com": true, "zohomail.eu": true, "zohomail.in": true,
	// Private and encrypted mail.
	"pm.me": true, "protonmail.ch": true, "tuta.io": true, "tuta.com": true, "tutanota.de": true, "tutamail.com": true,
	"keemail.me": true, "posteo.de": true, "posteo.net": true, "mailbox.org": true, "fastmail.fm": true,
	"runbox.com": true, "mailfence.com": true, "startmail.com": true, "disroot.org": true, "riseup.net": true,
	"duck.com": true, "email.com": true,
	// United Kingdom and Ireland.
	"btinternet.com": true, "btopenworld.com": true, "sky.com": true, "virginmedia.com": true, "virgin.net": true,
	"ntlworld.com": true, "blueyonder.co.uk": true, "talktalk.net": true, "tiscali.co.uk": true, "eircom.net": true,
	// United States: the telephone and cable companies' mail.
	"comcast.net": true, "verizon.net": true, "att.net": true, "sbcglobal.net": true, "bellsouth.net": true,
	"pacbell.net": true, "swbell.net": true, "ameritech.net": true, "prodigy.net": true, "cox.net": true,
	"charter.net": true, "rr.com": true, "optonline.net": true, "frontiernet.net": true, "centurylink.net": true,
	"q.com": true, "embarqmail.com": true, "windstream.net": true, "mindspring.com": true, "compuserve.com": true,
	"cs.com": true,
	// Canada, Australia, New Zealand.
	"shaw.ca": true, "rogers.com": true, "sympatico.ca": true, "videotron.ca": true, "telus.net": true,
	"bell.net": true, "cogeco.ca": true, "eastlink.ca": true, "sasktel.net": true, "bigpond.com": true,
	"bigpond.net.au": true, "optusnet.com.au": true, "iinet.net.au": true, "tpg.com.au": true, "westnet.com.au": true,
	"ozemail.com.au": true, "xtra.co.nz": true,
	// France, Belgium, Switzerland, Austria, Germany.
	"neuf.fr": true, "club-internet.fr": true, "numericable.fr": true, "bbox.fr": true, "aliceadsl.fr": true,
	"cegetel.net": true, "noos.fr": true, "voila.fr": true, "telenet.be": true, "skynet.be": true, "proximus.be": true,
	"scarlet.be": true, "bluewin.ch": true, "hispeed.ch": true, "sunrise.ch": true, "aon.at": true, "chello.at": true,
	"a1.net": true, "arcor.de": true, "freenet.de": true, "online.de": true, "vodafonemail.de": true, "1und1.de": true,
	"email.de": true, "mail.de": true, "kabelmail.de": true,
	// The Netherlands, Italy, Spain, Portugal, Greece, the Nordic countries.
	"ziggo.nl": true, "kpnmail.nl": true, "kpnplanet.nl": true, "planet.nl": true, "home.nl": true, "xs4all.nl": true,
	"hetnet.nl": true, "casema.nl": true, "chello.nl": true, "upcmail.nl": true, "quicknet.nl": true, "alice.it": true,
	"tin.it": true, "tim.it": true, "fastwebnet.it": true, "email.it": true, "inwind.it": true, "iol.it": true,
	"blu.it": true, "telefonica.net": true, "movistar.es": true, "ono.com": true, "terra.es": true, "ya.com": true,
	"wanadoo.es": true, "sapo.pt": true, "clix.pt": true, "netcabo.pt": true, "otenet.gr": true, "online.no": true,
	"comhem.se": true, "bredband.net": true,
	// Central and eastern Europe.
	"interia.pl": true, "interia.eu": true, "onet.pl": true, "op.pl": true, "tlen.pl": true, "gazeta.pl": true,
	"vp.pl": true, "poczta.fm": true, "rambler.ru": true, "ya.ru": true, "yandex.ua": true, "yandex.by": true,
	"yandex.kz": true, "internet.ru": true, "ukr.net": true, "i.ua": true, "abv.bg": true, "mail.bg": true,
	"dir.bg": true, "freemail.hu": true, "citromail.hu": true, "indamail.hu": true, "centrum.cz": true,
	"email.cz": true, "volny.cz": true, "post.cz": true, "atlas.cz": true, "azet.sk": true, "centrum.sk": true,
	"zoznam.sk": true, "inbox.lv": true,
	// Asia and Latin America.
	"nifty.com": true, "biglobe.ne.jp": true, "ocn.ne.jp": true, "so-net.ne.jp": true, "plala.or.jp": true,
	"docomo.ne.jp": true, "ezweb.ne.jp": true, "softbank.ne.jp": true, "softbank.jp": true, "139.com": true,
	"189.cn": true, "sina.cn": true, "yeah.net": true, "aliyun.com": true, "foxmail.com": true, "188.com": true,
	"21cn.com": true, "tom.com": true, "wo.cn": true, "263.net": true, "nate.com": true, "kakao.com": true,
	"korea.com": true, "ig.com.br": true, "globomail.com": true, "prodigy.net.mx": true,
	// Found missing by the eleventh federation review: their users' own
	// mail was shared as a spam run's sender domain.
	"magenta.de": true, "o2online.de": true, "telia.com": true, "hinet.net": true, "netvigator.com": true,
	"twc.com": true, "roadrunner.com": true, "optimum.net": true, "frontier.com": true, "walla.co.il": true,
	"yandex.com.tr": true, "hey.com": true, "mailo.com": true, "pec.it": true,
	// A group's address rewrites its members' From to its own and signs
	// it: the domain names every group, not one spam run.
	"googlegroups.com": true,
}
