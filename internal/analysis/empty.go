package analysis

// fillEmpty applies the Verdict's one rule for empty collections
// (docs/verdict.md): every list and map is present, [] or {} when empty,
// so that consumers never have to tell "absent" from "none".
func (v *Verdict) fillEmpty() {
	v.Message.MIME = orEmpty(v.Message.MIME)
	v.Message.Defects = orEmpty(v.Message.Defects)
	v.Origin.Hops = orEmpty(v.Origin.Hops)
	for i := range v.Origin.Hops {
		v.Origin.Hops[i].Flags = orEmpty(v.Origin.Hops[i].Flags)
	}
	if a := v.Auth; a != nil {
		a.DKIM = orEmpty(a.DKIM)
		for i := range a.DKIM {
			a.DKIM[i].Headers = orEmpty(a.DKIM[i].Headers)
			a.DKIM[i].UnsignedURLs = orEmpty(a.DKIM[i].UnsignedURLs)
		}
		a.Headers = orEmpty(a.Headers)
		for i := range a.Headers {
			a.Headers[i].Results = orEmpty(a.Headers[i].Results)
			for j := range a.Headers[i].Results {
				if a.Headers[i].Results[j].Props == nil {
					a.Headers[i].Results[j].Props = map[string]string{}
				}
			}
		}
	}
	v.Sender.From = orEmpty(v.Sender.From)
	v.Sender.Sender = orEmpty(v.Sender.Sender)
	v.Sender.ReplyTo = orEmpty(v.Sender.ReplyTo)
	v.Sender.Findings = orEmpty(v.Sender.Findings)
	v.OptOut.ListUnsubscribe = orEmpty(v.OptOut.ListUnsubscribe)
	v.OptOut.Body = orEmpty(v.OptOut.Body)
	v.OptOut.Phrases = orEmpty(v.OptOut.Phrases)
	v.Commercial.Signals = orEmpty(v.Commercial.Signals)
	v.Phishing.Why = orEmpty(v.Phishing.Why)
	c := &v.Content
	c.URLs = orEmpty(c.URLs)
	for i := range c.URLs {
		c.URLs[i].Obfuscated = orEmpty(c.URLs[i].Obfuscated)
	}
	c.Domains = orEmpty(c.Domains)
	c.Emails = orEmpty(c.Emails)
	c.Phones = orEmpty(c.Phones)
	c.Attachments = orEmpty(c.Attachments)
	for i := range c.Attachments {
		c.Attachments[i].Flags = orEmpty(c.Attachments[i].Flags)
	}
	v.Legal = orEmpty(v.Legal)
	for i := range v.Legal {
		v.Legal[i].Rules = orEmpty(v.Legal[i].Rules)
	}
	if v.Spam != nil {
		v.Spam.Reasons = orEmpty(v.Spam.Reasons)
	}
	v.Reasons = orEmpty(v.Reasons)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
