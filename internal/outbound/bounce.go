package outbound

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/mail"
)

// Bounce is a mail that came back to the mailbox about a mail: a delivery
// status notification, an MTA's failure notice, or an automatic answer
// (out of office). It is never a complaint.
type Bounce struct {
	ID           string
	MailID       string // The node's mail it is about; "" when it names none of them.
	Kind         string // "dsn" (RFC 3464), "bounce" (a failure notice in prose), "auto-reply" (RFC 3834), "reply" (an answer to the node's mail).
	Action       string // DSN action: failed, delayed, delivered, relayed, expanded ("failed" for a prose bounce).
	Status       string // DSN status code, e.g. 5.1.1, when given.
	Recipient    string // Final-Recipient, when given.
	Diagnostic   string
	ReportingMTA string
	From         string // The bounce's From field.
	Subject      string
	SHA256       string // Of the bounce's bytes: the same bounce twice is one.
	ReceivedAt   time.Time
}

// Failure reports whether the bounce says the mail was not delivered.
func (b Bounce) Failure() bool {
	return (b.Kind == "dsn" || b.Kind == "bounce") && b.Action == "failed"
}

// Envelope is what the SMTP session said about a mail.
type Envelope struct {
	Known    bool     // False for a mail read from a file: Return-Path stands in.
	MailFrom string   // "" is the null reverse-path of bounces.
	Rcpt     []string // The recipients at the mailbox.
}

// daemonLocal matches the local parts (dots, underscores and spaces read
// as hyphens) that MTAs and list managers send their notices from.
var daemonLocal = regexp.MustCompile(`(?i)^(mailer-?daemon|mail-?daemon|post-?master|mail-delivery-(sub)?system|mdaemon|mail-administrator|microsoftexchange[0-9a-f]*|double-bounce|bounces?|returns?|mailer|smtp[a-z0-9-]*|system-administrator|internet-mail-delivery|.+-(admin|owner|bounces)|owner-.+)$`)

// systemLocal matches the envelope senders (local parts, dots and
// underscores read as hyphens, at any domain) that mail systems send
// their notices from when they do not use the null reverse-path:
// MAILER-DAEMON (Sendmail, Postfix, Exim, most), postmaster (RFC 5321's
// role, which many MTAs and filters such as amavis use), qmail's
// double-bounce, and the Mail Delivery (Sub)system some write out. A small
// list on purpose: a notice from such a sender is a bounce, never a
// report, and such a sender is never answered.
var systemLocal = regexp.MustCompile(`(?i)^(mailer-?daemon|mail-?daemon|post-?master|double-bounce|mail-delivery-(sub)?system)$`)

// SystemSender reports whether an envelope sender is a mail system's: the
// null reverse-path, or one of the role addresses MTAs send notices from
// (MAILER-DAEMON, postmaster, …, at any domain). The mailbox never answers
// one — an answer to a mail system is a loop waiting to happen — and a
// notice from one is a bounce.
func SystemSender(addr string) bool {
	addr = strings.Trim(addr, "<> \t")
	if addr == "" {
		return true
	}
	local := addr
	if at := strings.LastIndexByte(addr, '@'); at >= 0 {
		local = addr[:at]
	}
	return systemLocal.MatchString(hyphens(strings.Trim(local, `"`)))
}

// noticeSubject is what else the subject of an MTA's failure or delay
// notice says, read only for mail from a mail system's role address with
// a mail system's From (bounceSubject is read for any mail).
var noticeSubject = regexp.MustCompile(`(?i)\b(fail(ed|ure)?|errors?|delay(ed)?|undeliver\w*|returned|bounced?|warning|could not (send|deliver)|unable to deliver)\b`)

// forwardSubject is the subject of a person's forward (Fwd:, Fw:, TR:,
// WG:, RV:, Enc:): a bounce they pass on, whatever address they use.
var forwardSubject = regexp.MustCompile(`(?i)^\s*(fwd?|fw|tr|wg|rv|enc)\s*:`)

var autoSubject = regexp.MustCompile(`(?i)^(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|r[ée]ponse automatique|abwesenheit|respuesta autom[áa]tica|risposta automatica|automatisch antwoord|afwezig|resposta autom[áa]tica)`)

var bounceSubject = regexp.MustCompile(`(?i)(undeliver|undelivered|not (be )?delivered|delivery (status )?(notification|failure|failed|report|problem|has failed)|failure notice|returned (mail|to sender)|mail delivery (failed|failure|system|subsystem)|could not be delivered|couldn't be delivered|non[- ]?remis|unzustellbar|nicht zustellbar|warning: could not send|message not delivered|delivery unsuccessful|permanent error|mail system error|undeliverable|returned message|nondeliverable|delivery notification|no se pudo entregar|error sending message|mail could not|message you sent|bounced mail|rejected:|DSN|メールエラー|エラー通知|配信エラー)`)

// Classify says whether a mail at the mailbox is a bounce or an automatic
// answer rather than a complaint, and of which kind ("" for a complaint).
// Feedback reports (ARF, X-ARF) are complaints even when a machine sent
// them. A person forwarding or redirecting spam that looks like a bounce
// is not a bounce: with a known envelope, a bounce has the null sender, or
// a mail system's role address as sender (SystemSender) and a bounce's
// form, or is addressed to a bounce address, and an automatic answer
// says so in Auto-Submitted (RFC 3834).
//
// Only the complaint's own header counts: for a redirect, the fields above
// its Resent- block (mail.Header.Outer), never the redirected spam's own
// Auto-Submitted, From or Subject. A mail forwarded by a rule
// (Auto-Submitted: auto-forwarded) is a complaint, not an answer.
func Classify(m *mail.Message, env Envelope) string {
	kind, _ := classify(m, env)
	return kind
}

// classify is Classify, and whether the mail is a mail system's own
// notice: sent by a mail system's role address (SystemSender, not the
// null sender) in a bounce's form — a DSN of its own (not one inside an
// attached message) or a failure notice from a mail system's From — and
// not a forward. Such a notice is a bounce whatever it names; the same
// mail from a person's address is what they report.
func classify(m *mail.Message, env Envelope) (kind string, notice bool) {
	h := m.Header.Outer()
	redirect := len(h.Fields) < len(m.Header.Fields)
	ct := strings.ToLower(h.Get("Content-Type"))
	if m.Root != nil && m.Root.ContentType == "multipart/report" && strings.EqualFold(m.Root.Params["report-type"], "feedback-report") ||
		strings.EqualFold(strings.TrimSpace(h.Get("X-ARF")), "yes") || strings.Contains(ct, "feedback-report") {
		return "", false
	}
	null := false
	if env.Known {
		null = strings.Trim(env.MailFrom, "<> ") == ""
	} else if rp := h.Get("Return-Path"); rp != "" {
		null = strings.Trim(rp, "<> \t") == ""
	}
	dsn := false
	for _, p := range m.Parts {
		if redirect {
			break // the redirected message's parts are what is reported
		}
		if p.ContentType == "message/delivery-status" || p.ContentType == "message/global-delivery-status" {
			dsn = true
			break
		}
	}
	auto := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted")))
	auto, _, _ = strings.Cut(auto, ";")
	auto = strings.TrimSpace(auto)
	automated := auto != "" && auto != "no" && auto != "auto-forwarded" || h.Has("X-Autoreply") || h.Has("X-Autorespond") ||
		strings.EqualFold(strings.TrimSpace(h.Get("Precedence")), "auto_reply") || h.Has("X-Autogenerated")
	fromLocal := localPart(h.Get("From"))
	daemon := daemonLocal.MatchString(hyphens(fromLocal))
	if !env.Known {
		daemon = daemon || daemonLocal.MatchString(hyphens(localPart(h.Get("Return-Path"))))
	}
	subject := h.Get("Subject")
	// Apple's vacation answers, and the usual auto-reply subjects on an
	// answer to a mail.
	automated = automated || h.Has("X-Apple-Action") || h.Has("In-Reply-To") && autoSubject.MatchString(strings.TrimSpace(subject))
	// Amazon SES notifications through SNS: bounces, and the delivery
	// and complaint notices of the same feed.
	if h.Has("X-Amz-Sns-Message-Id") {
		if strings.Contains(string(m.Raw), `"notificationType":"Bounce"`) {
			return "bounce", false
		}
		automated = true
	}
	if env.Known && !null && SystemSender(env.MailFrom) && !redirect {
		// A mail system's role address: its own DSN, or a failure notice
		// from a mail system's From ("MAILER-DAEMON <>" names it only in
		// the display name), is its notice — unless it is a forward, or
		// carries another's DSN in an attached message.
		subj, _ := mail.DecodeHeader(subject)
		sysFrom := daemon || automated || fromLocal == "" && daemonLocal.MatchString(hyphens(displayName(h.Get("From"))))
		notice = !forwardSubject.MatchString(subj) &&
			(ownDSN(m.Root) || sysFrom && !dsn && (bounceSubject.MatchString(subj) || noticeSubject.MatchString(subj)))
	}
	switch {
	case dsn && (null || !env.Known || automated || daemon || notice):
		return "dsn", notice
	case null:
		return "bounce", false // the null reverse-path is only for notifications (RFC 5321 4.5.5)
	case notice:
		return "bounce", true
	case !env.Known && daemon:
		return "bounce", false
	case automated && (daemon || bounceSubject.MatchString(subject)):
		return "bounce", false
	case automated:
		return "auto-reply", false
	case !env.Known && bounceSubject.MatchString(subject) && fromLocal == "":
		return "bounce", false
	}
	return "", false
}

// ownDSN reports whether a MIME tree is a delivery status notification
// itself — a multipart/report of report-type delivery-status, or a
// message/delivery-status part — without looking inside attached
// messages: a forward that attaches a DSN is not one.
func ownDSN(p *mail.Part) bool {
	if p == nil {
		return false
	}
	switch p.ContentType {
	case "message/delivery-status", "message/global-delivery-status":
		return true
	case "multipart/report":
		if rt := strings.ToLower(p.Params["report-type"]); rt == "delivery-status" || rt == "global-delivery-status" {
			return true
		}
	case "message/rfc822", "message/global":
		return false
	}
	for _, c := range p.Children {
		if c.Embedded {
			continue
		}
		if ownDSN(c) {
			return true
		}
	}
	return false
}

func hyphens(s string) string {
	return strings.NewReplacer(".", "-", "_", "-", " ", "-").Replace(s)
}

// displayName is the display name of a From field (before its <…>).
func displayName(from string) string {
	if i := strings.IndexByte(from, '<'); i >= 0 {
		from = from[:i]
	}
	return strings.Trim(strings.TrimSpace(from), `"`)
}

// localPart is the local part of the first address in a From field, or
// its display name when there is no address.
func localPart(from string) string {
	from = strings.TrimSpace(from)
	addr := from
	if i := strings.LastIndexByte(from, '<'); i >= 0 {
		addr = strings.TrimRight(from[i+1:], "> \t")
	} else if i := strings.IndexByte(from, '('); i > 0 {
		addr = strings.TrimSpace(from[:i])
	}
	if at := strings.LastIndexByte(addr, '@'); at > 0 {
		return strings.Trim(addr[:at], `" `)
	}
	return strings.Trim(addr, `" `)
}

// Recognize returns the bounce a mail at the mailbox is, or nil when it is
// a complaint. A mail addressed to one of the node's bounce addresses is
// always a bounce. The bounce is linked to the node's mail it names (its
// bounce address, or its Message-ID quoted in the returned header), only
// when the address or Message-ID carries the node's tag.
func (q *Queue) Recognize(raw []byte, env Envelope, now time.Time) *Bounce {
	m := mail.ParseBytes(raw, mail.Limits{MaxBytes: 4 << 20})
	kind, notice := classify(m, env)
	link := ""
	for _, r := range env.Rcpt {
		if id := q.MailIDFrom(r); id != "" {
			link = id
			if kind == "" {
				kind = "bounce"
			}
		}
	}
	if kind == "" && link == "" && !attachesMessage(m) {
		// An answer to one of the node's mails (a person's "thanks", an
		// autoresponder without RFC 3834 fields) is not a complaint, even
		// when it quotes a status link: it is linked to what it answers.
		for _, v := range append(m.Header.Outer().Values("In-Reply-To"), m.Header.Outer().Values("References")...) {
			if link = q.findOwn(v); link != "" {
				kind = "reply"
				break
			}
		}
	}
	if kind == "" {
		return nil
	}
	if (kind == "dsn" || kind == "bounce") && env.Known && strings.Trim(env.MailFrom, "<> ") != "" && !notice && link == "" && !q.namesOwn(m) {
		// A bounce comes from the null sender or a mail system's role
		// address (a notice in a bounce's form), or to a bounce address,
		// or names the node's mail. One that does none of these came from
		// a person's address: it is something they are reporting (the
		// backscatter of spam forged in their name, a phishing mail
		// dressed as a failure notice).
		return nil
	}
	b := &Bounce{Kind: kind, From: oneLine(m.Header.Get("From")), Subject: oneLine(m.Header.Get("Subject")), ReceivedAt: now.UTC()}
	sum := sha256.Sum256(raw)
	b.SHA256 = hex.EncodeToString(sum[:])
	if kind == "dsn" || kind == "bounce" {
		b.Action = "failed"
	}
	for _, p := range m.Parts {
		if p.ContentType == "message/delivery-status" || p.ContentType == "message/global-delivery-status" {
			parseDSN(p.Body, b)
			break
		}
	}
	if link == "" {
		for _, v := range append(m.Header.Values("To"), m.Header.Values("In-Reply-To")...) {
			if link = q.findOwn(v); link != "" {
				break
			}
		}
	}
	if link == "" {
		link = q.findOwn(string(m.Raw))
	}
	b.MailID = link
	return b
}

// attachesMessage reports whether a mail carries a whole message
// (message/rfc822): a report, whatever else it answers.
func attachesMessage(m *mail.Message) bool {
	for _, p := range m.Parts {
		if p.ContentType == "message/rfc822" || p.ContentType == "message/global" {
			return true
		}
	}
	return false
}

// namesOwn reports whether a mail names one of the node's mails anywhere.
func (q *Queue) namesOwn(m *mail.Message) bool { return q.findOwn(string(m.Raw)) != "" }

var ownRef = regexp.MustCompile(`(?i)(?:bounce\+)?[a-z2-7]{16}\.[a-z2-7]{8}@[a-z0-9.-]+`)

// findOwn finds the first reference to one of the node's mails in s.
func (q *Queue) findOwn(s string) string {
	for _, c := range ownRef.FindAllString(s, 50) {
		if id := q.MailIDFrom(c); id != "" {
			return id
		}
	}
	return ""
}

// parseDSN reads the per-message and first per-recipient fields of a
// message/delivery-status body (RFC 3464).
func parseDSN(body []byte, b *Bounce) {
	text := strings.ReplaceAll(string(body), "\r\n", "\n")
	var last string
	fields := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && last != "" {
			fields[last] += " " + strings.TrimSpace(line)
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		last = strings.ToLower(strings.TrimSpace(name))
		if _, seen := fields[last]; !seen {
			fields[last] = strings.TrimSpace(value)
		}
	}
	typed := func(v string) string {
		if _, after, ok := strings.Cut(v, ";"); ok {
			return strings.TrimSpace(after)
		}
		return v
	}
	clip := func(s string, n int) string {
		s = oneLine(s)
		if len(s) > n {
			return s[:n]
		}
		return s
	}
	if a := strings.ToLower(fields["action"]); a != "" {
		b.Action = clip(strings.Fields(a)[0], 20)
	}
	b.Status = clip(fields["status"], 20)
	b.Recipient = clip(typed(fields["final-recipient"]), 320)
	b.Diagnostic = clip(typed(fields["diagnostic-code"]), 1000)
	b.ReportingMTA = clip(typed(fields["reporting-mta"]), 255)
	if strings.HasPrefix(b.Status, "4.") && b.Action == "failed" {
		b.Action = "delayed"
	}
}
