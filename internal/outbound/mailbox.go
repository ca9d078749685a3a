package outbound

import "strings"

// MailboxKey folds an address to the mailbox it reaches, for the bounds
// on confirmation mail: lower case (local parts are case-insensitive in
// practice), a trailing dot of the domain dropped, and a sub-address cut
// off at the first delimiter — "+" everywhere (Gmail, Outlook, iCloud,
// Fastmail, Proton, Postfix's default), the node's own
// recipient_delimiter characters besides ("none": "+" only), and "-" at
// Yahoo (its disposable addresses are base-keyword). Gmail ignores dots
// in local parts and answers for googlemail.com too: both are folded.
// Folding too much only makes two people share a bound; folding too
// little lets one mailbox be flooded through its variants.
func MailboxKey(addr, delimiters string) string {
	addr = strings.ToLower(strings.TrimSpace(strings.Trim(strings.TrimSpace(addr), "<>")))
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	local, domain := addr[:at], strings.TrimSuffix(addr[at+1:], ".")
	if len(local) > 1 && local[0] == '"' && local[len(local)-1] == '"' {
		local = local[1 : len(local)-1]
	}
	cut := "+"
	if delimiters != "none" {
		cut += delimiters
	}
	if isYahoo(domain) {
		cut += "-"
	}
	if i := strings.IndexAny(local, cut); i > 0 {
		local = local[:i]
	}
	if domain == "gmail.com" || domain == "googlemail.com" {
		domain = "gmail.com"
		if l := strings.ReplaceAll(local, ".", ""); l != "" {
			local = l
		}
	}
	return local + "@" + domain
}

// isYahoo reports whether a domain is one of Yahoo's mail domains
// (yahoo.com, yahoo.co.uk, ymail.com…).
func isYahoo(domain string) bool {
	return domain == "ymail.com" || domain == "rocketmail.com" || strings.HasPrefix(domain, "yahoo.") ||
		strings.Contains(domain, ".yahoo.")
}
