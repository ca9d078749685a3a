package smtpd

import (
	"context"
	"errors"
	"net/mail"
	"strings"

	"github.com/accord-antispam/accord/internal/i18n"
	"github.com/accord-antispam/accord/internal/intake"
	mailmsg "github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/outbound"
)

// Answers is how the mailbox answers reporters by mail: an
// acknowledgement with the private status links of what was stored, or a
// short how-to when a mail carried nothing to report. Without it the
// mailbox answers only in the SMTP dialogue.
type Answers struct {
	Queue     *outbound.Queue
	Catalogue *i18n.Catalogue
	Name      string // The node's name, as the mails sign.
	PublicURL string // Where the node's web pages are, e.g. https://desk.example.org (no trailing slash).
	// Mailbox is the complaints address the how-to gives; "" gives
	// report@ the node's mail domain. Never the address a client named in
	// RCPT: the mailbox takes any, so that would mail an attacker's text
	// (a quoted local part holds 1,000 characters of a phishing pitch),
	// signed by the node, to whoever the attacker named as sender.
	Mailbox string
}

// mailbox is the complaints address to give people.
func (a *Answers) mailbox() string {
	if a.Mailbox != "" {
		return a.Mailbox
	}
	return "report@" + a.Queue.Domain()
}

// StatusURL is a report's private status link.
func (a *Answers) StatusURL(id, token string) string {
	return strings.TrimRight(a.PublicURL, "/") + "/r/" + id + "?t=" + token
}

// mayAnswer reports whether a mail deserves an answer: never to the null
// sender or a mail system's role address (MAILER-DAEMON, postmaster, …:
// outbound.SystemSender — an answer there is a loop waiting to happen,
// even for a complaint stored from it), to automatic mail (RFC 3834:
// Auto-Submitted, and the Precedence values of lists and robots), to
// mailing lists, or to the node itself. Bounces never get this far.
func (a *Answers) mayAnswer(to string, h mailmsg.Header) bool {
	to = strings.ToLower(strings.Trim(to, "<> "))
	if outbound.SystemSender(to) || a.Queue.MailIDFrom(to) != "" || to == a.Queue.Address() {
		return false
	}
	if _, err := mail.ParseAddress(to); err != nil {
		return false
	}
	as := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted")))
	if as != "" && !strings.HasPrefix(as, "no") {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "bulk", "list", "junk", "auto_reply":
		return false
	}
	if h.Has("List-Id") || h.Has("List-Unsubscribe") || h.Has("X-Autoreply") || h.Has("X-Autorespond") {
		return false
	}
	return true
}

// language is the reporter's language as their mail says it.
func (a *Answers) language(h mailmsg.Header) string {
	return a.Catalogue.Match(h.Get("Content-Language"), h.Get("Accept-Language"))
}

// acknowledge queues the acknowledgement of a stored complaint.
func (a *Answers) acknowledge(ctx context.Context, to string, h mailmsg.Header, rec intake.Receipt) (outbound.Item, error) {
	lang := a.language(h)
	data := map[string]any{"Name": a.Name, "Complaint": rec.ComplaintID, "FormURL": strings.TrimRight(a.PublicURL, "/") + "/", "Count": len(rec.Reports),
		"Mailbox": a.mailbox()}
	var b strings.Builder
	b.WriteString(a.Catalogue.T(lang, "mail_ack_intro", data))
	b.WriteString("\n\n")
	b.WriteString(a.Catalogue.T(lang, "mail_ack_reports", data))
	b.WriteString("\n")
	for _, r := range rec.Reports {
		b.WriteString("  " + a.StatusURL(r.ID, r.StatusToken) + "\n")
	}
	b.WriteString("\n")
	b.WriteString(a.Catalogue.T(lang, "mail_ack_outro", data))
	b.WriteString("\n\n")
	b.WriteString(a.Catalogue.T(lang, "mail_footer", data))
	b.WriteString("\n")
	return a.Queue.Send(ctx, outbound.Mail{Kind: outbound.KindAck, Ref: "complaint:" + rec.ComplaintID, To: to, Answer: true,
		Subject: a.Catalogue.T(lang, "mail_ack_subject", data), Text: b.String(), Lang: lang, InReplyTo: h.Get("Message-ID")})
}

// howTo queues the answer to a mail with nothing to report.
func (a *Answers) howTo(ctx context.Context, to string, h mailmsg.Header) (outbound.Item, error) {
	lang := a.language(h)
	mailbox := a.mailbox()
	data := map[string]any{"Name": a.Name, "Mailbox": mailbox, "FormURL": strings.TrimRight(a.PublicURL, "/") + "/"}
	text := a.Catalogue.T(lang, "mail_howto_body", data) + "\n\n" + a.Catalogue.T(lang, "mail_footer", data) + "\n"
	return a.Queue.Send(ctx, outbound.Mail{Kind: outbound.KindHowTo, Ref: "mailbox:" + mailbox, To: to, Answer: true,
		Subject: a.Catalogue.T(lang, "mail_howto_subject", data), Text: text, Lang: lang, InReplyTo: h.Get("Message-ID")})
}

// answerError says whether a failure to answer matters: the per-address
// bound and loop refusals are the design working.
func answerError(err error) bool {
	return err != nil && !errors.Is(err, outbound.ErrTooMany) && !strings.Contains(err.Error(), "mail loop")
}

func topHeader(raw []byte) mailmsg.Header {
	end := len(raw)
	if end > 256<<10 {
		end = 256 << 10
	}
	return mailmsg.ParseBytes(raw[:end], mailmsg.Limits{MaxBytes: 256 << 10, MaxParts: 1}).Header
}
