package dnsname

// MailboxProvider reports whether an organizational domain is a large
// free mailbox provider's (gmail.com, orange.fr, web.de, me.com, …): an
// address there says nothing of who holds it beyond the address itself.
// The identity rules ask it about a sender's domain; the redaction of
// people's domains asks it too, because such a domain — or its name
// ("gmail", "free") in a link — names millions of people, not one, and
// is what a phish impersonates.
func MailboxProvider(orgDomain string) bool { return mailboxProviders[orgDomain] }

// mailboxProviders are organizational domains of free mailbox providers.
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
}
