// Package smtpd is the complaints mailbox: an SMTP server (emersion/go-smtp)
// where people forward spam. A complaint is answered 250 only after the
// desk has durably stored it; what cannot be read gets a 554 that says why,
// which the sender's mail server turns into a bounce. Sizes, recipients,
// line lengths, idle time and each sender's rate are bounded, so a hostile
// client costs little and the node stays up.
package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/accord-antispam/accord/internal/connlimit"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/outbound"
	"github.com/accord-antispam/accord/internal/ratelimit"
	"github.com/accord-antispam/accord/internal/spool"
)

// maxLine is the longest command or message line accepted.
const maxLine = 64 << 10

// Config tunes the mailbox.
type Config struct {
	Hostname        string        // Greeting name.
	MaxMessageBytes int64         // Largest complaint (default 25 MiB).
	MaxRecipients   int           // Per message (default 50).
	IdleTimeout     time.Duration // Per command read or write (default 60s): slow clients are cut off.
	MaxSession      time.Duration // Whole connection (default 10m): a client trickling bytes is cut off too.
	MaxConns        int           // Connections at once (default 200); more are told 421 and closed.
	MaxConnsPerIP   int           // Connections at once from one client address, an IPv6 client by its /64 (default 20).
	RatePerSender   int           // Complaints per minute from one sender address (default 30).
	RatePerIP       int           // Complaints per minute from one client IP (default 600: a relay carries many senders).
	AnswersPerIP    int           // Answers mailed per hour because of mail from one client IP (default 60): no flood of signed mail to forged senders.
	// Budget bounds the bytes of complaints held in memory at once, shared
	// with the web doors (nil: a budget of its own, 48 MiB). A complaint
	// is spooled to disk as it arrives and read back within the budget.
	Budget *spool.Budget
	Now    func() time.Time // The clock of the rate limits (nil: time.Now).
	TLS    *tls.Config      // STARTTLS when set.
	// Answers, when set, mails reporters an acknowledgement or a how-to,
	// and records the bounces that come back, linked to what bounced.
	Answers *Answers
	// OptOut, when set, takes the mail sent to registered senders'
	// opt-out addresses (RFC 2369 mailto) instead of the complaint desk.
	OptOut OptOut
	// Authenticate, when set, says how the complaint's envelope sender is
	// authenticated ("spf", "dkim", or "" when it is not): SPF of its
	// domain for the client's address, or a passing DKIM signature aligned
	// with it. A sender learns of a complainant, and suppresses them, only
	// when the address that sent the complaint is authenticated.
	Authenticate func(ctx context.Context, ip, helo, mailFrom string, raw []byte) string
}

// OptOut is the mailto door of one-click opt-out: mail to
// "unsubscribe+TOKEN@…" unsubscribes at once. The mail's content does not
// matter; the address is the request.
type OptOut interface {
	// MailtoToken says whether an address is an opt-out address and, if
	// so, its token; err is set for a forged token.
	MailtoToken(addr string) (token string, isOptOut bool, err error)
	// MailtoOptOut acts on a token. Acting twice is acting once: already
	// says the recipient was unsubscribed before.
	MailtoOptOut(ctx context.Context, token, from, ip string) (already bool, err error)
}

// Server is the complaints mailbox.
type Server struct {
	srv    *smtp.Server
	desk   *intake.Desk
	log    *slog.Logger
	sender *ratelimit.Limiter
	ip     *ratelimit.Limiter
	// answersIP bounds the answers mailed because of one client's mail.
	answersIP *ratelimit.Limiter
	cfg       Config
	now       func() time.Time
}

// New builds the mailbox.
func New(desk *intake.Desk, cfg Config, log *slog.Logger) *Server {
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 25 << 20
	}
	if cfg.MaxRecipients <= 0 {
		cfg.MaxRecipients = 50
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.MaxSession <= 0 {
		cfg.MaxSession = 10 * time.Minute
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 200
	}
	if cfg.MaxConnsPerIP <= 0 {
		cfg.MaxConnsPerIP = 20
	}
	if cfg.RatePerSender <= 0 {
		cfg.RatePerSender = 30
	}
	if cfg.RatePerIP <= 0 {
		cfg.RatePerIP = 600
	}
	if cfg.AnswersPerIP <= 0 {
		cfg.AnswersPerIP = 60
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Budget == nil {
		cfg.Budget = spool.NewBudget(0)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{desk: desk, log: log, now: cfg.Now, cfg: cfg, sender: ratelimit.PerMinute(cfg.RatePerSender, cfg.Now),
		ip: ratelimit.PerMinute(cfg.RatePerIP, cfg.Now), answersIP: ratelimit.New(cfg.AnswersPerIP, time.Hour, cfg.Now)}
	srv := smtp.NewServer(s)
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	// Real spam breaks the 998-byte line limit of RFC 5322 often; refuse
	// only lines no mail needs, so memory per client stays bounded.
	srv.MaxLineLength = maxLine
	srv.ReadTimeout = cfg.IdleTimeout
	srv.WriteTimeout = cfg.IdleTimeout
	srv.TLSConfig = cfg.TLS
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slogAdapter{log}
	s.srv = srv
	return s
}

// Serve accepts connections on l until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	// The per-command timeouts of go-smtp alone let a client that sends a
	// byte now and then hold a connection for ever, and one client could
	// hold every slot: both are bounded here.
	return s.srv.Serve(connlimit.Wrap(l, connlimit.Limits{Max: s.cfg.MaxConns, PerIP: s.cfg.MaxConnsPerIP, MaxLife: s.cfg.MaxSession, Log: s.log,
		Refuse: func(c net.Conn, why string) { io.WriteString(c, "421 4.7.0 Too many connections; try again later\r\n") }}))
}

// Shutdown stops accepting and waits for sessions to end (a session in DATA
// finishes its commit first).
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	ip := ""
	if a, ok := c.Conn().RemoteAddr().(*net.TCPAddr); ok {
		ip = a.IP.String()
	}
	return &session{s: s, ip: ip, conn: c}, nil
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	ip     string
	from   string
	rcpts  []string
	optout []string // tokens of opt-out recipients
}

func (x *session) Reset()        { x.from, x.rcpts, x.optout = "", nil, nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if ok, _ := x.s.ip.Allow(ratelimit.Key(x.ip)); !ok {
		return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too many complaints from you just now; try again in a minute"}
	}
	if ok, _ := x.s.sender.Allow(strings.ToLower(from)); from != "" && !ok {
		return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too many complaints from you just now; try again in a minute"}
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if o := x.s.cfg.OptOut; o != nil {
		tok, is, err := o.MailtoToken(to)
		if is && err != nil {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such opt-out address: check that the whole address was copied"}
		}
		if is {
			x.optout = append(x.optout, tok)
			return nil
		}
	}
	x.rcpts = append(x.rcpts, strings.ToLower(to))
	return nil
}

func (x *session) Data(r io.Reader) error {
	body, err := spool.Read(r, x.s.cfg.MaxMessageBytes)
	if errors.Is(err, spool.ErrTooLarge) {
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "The message is too large; nothing was kept"}
	}
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return se // the size limit: 552
		}
		if errors.Is(err, smtp.ErrTooLongLine) {
			return &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
				Message: fmt.Sprintf("A line of the message is longer than %d bytes; nothing was kept", maxLine)}
		}
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Reading the message failed; nothing was kept, try again"}
	}
	defer body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Many large complaints at once wait for their turn here, on disk,
	// instead of each holding its bytes in memory.
	release, err := x.s.cfg.Budget.AdmitBody(ctx, body.Size())
	if err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "The desk is busy; nothing was kept, try again shortly"}
	}
	defer release()
	raw, err := body.Bytes()
	if err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Reading the message failed; nothing was kept, try again"}
	}
	if len(x.optout) > 0 {
		if err := x.optOut(ctx); err != nil || len(x.rcpts) == 0 {
			return err
		}
	}
	// Bounces and automatic answers are never complaints, and never
	// answered: no mail loops.
	if err := x.bounce(ctx, raw); err != nil {
		return err
	}
	h := topHeader(raw)
	reporter, relayed := x.reporter(h)
	auth := ""
	if a := x.s.cfg.Authenticate; a != nil && x.from != "" && !relayed && reporter == x.from {
		auth = a(ctx, x.ip, x.conn.Hostname(), x.from, raw) // a null sender or a relayed mail is never authenticated
	}
	// The desk's addresses: those the mail was received for, and the
	// public one people are given (an alias at another host that passes
	// mail on to this one): a mail written to either is written to the
	// desk.
	desk := x.rcpts
	if a := x.s.cfg.Answers; a != nil && a.Mailbox != "" {
		desk = append(slices.Clone(x.rcpts), strings.ToLower(a.Mailbox))
	}
	rec, err := x.s.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: raw, Reporter: reporter, ReporterAuth: auth, SubmittedBy: "smtp", Desk: desk})
	var rej *intake.RejectError
	switch {
	case errors.As(err, &rej) && errors.Is(err, intake.ErrBadEvidence):
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
			Message: "The report's evidence is damaged, so nothing was kept: " + rej.Reason}
	case errors.As(err, &rej):
		if errors.Is(err, intake.ErrNoMessage) && !relayed && x.answerHowTo(ctx, h) {
			return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0},
				Message: "No message to report was found, so no report was stored; instructions were sent to you by mail"}
		}
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
			Message: "No message to report was found: forward the spam as an attachment, or paste its source. (" + rej.Reason + ")"}
	case errors.Is(err, intake.ErrClosed):
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Shutting down; try again shortly"}
	case err != nil:
		x.s.log.Error("store complaint", "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "The complaint could not be stored; nothing was kept, try again"}
	}
	ids := make([]string, len(rec.Reports))
	for i, r := range rec.Reports {
		ids[i] = r.ID
	}
	x.s.log.Info("complaint stored", "complaint", rec.ComplaintID, "reports", strings.Join(ids, ","), "ip", x.ip)
	if !relayed && !x.fromAuthor(h, rec) {
		x.acknowledge(ctx, h, rec)
	}
	// A 250 with the ids, so the reporter's mail log says what became of it.
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0},
		Message: fmt.Sprintf("Stored: complaint %s, report %s. Thank you.", rec.ComplaintID, strings.Join(ids, ", "))}
}

// optOut acts on the session's opt-out recipients: the request is the
// address, so it takes effect whatever the mail says. Each is tried; the
// answer is a fixed sentence (what went wrong stays in the node's log),
// and says when only some took effect.
func (x *session) optOut(ctx context.Context) error {
	taken, already := 0, 0
	for _, tok := range x.optout {
		was, err := x.s.cfg.OptOut.MailtoOptOut(ctx, tok, x.from, x.ip)
		if err != nil {
			x.s.log.Warn("mailto opt-out refused", "err", err, "ip", x.ip)
			continue
		}
		taken++
		if was {
			already++
		}
	}
	x.s.log.Info("mailto opt-out", "n", len(x.optout), "taken", taken, "already", already, "ip", x.ip)
	switch {
	case taken == 0:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: "The opt-out was not taken: the link is from an older message, or the node could not take it now. Use the link in a newer message, or try again later"}
	case taken < len(x.optout) && len(x.rcpts) == 0:
		return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0},
			Message: fmt.Sprintf("%d of %d opt-outs took effect now; the others were not taken (a link from an older message, or try again later)", taken, len(x.optout))}
	}
	if len(x.rcpts) > 0 {
		return nil
	}
	if already == taken {
		return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Already unsubscribed: nothing more to do"}
	}
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Unsubscribed: this took effect now"}
}

// bounce answers 250 for a bounce or automatic answer (recorded, linked to
// the node's mail it names), so the sending MTA does not retry; nil lets a
// complaint through.
func (x *session) bounce(ctx context.Context, raw []byte) error {
	env := outbound.Envelope{Known: true, MailFrom: x.from, Rcpt: x.rcpts}
	var b *outbound.Bounce
	if a := x.s.cfg.Answers; a != nil {
		b = a.Queue.Recognize(raw, env, x.s.now())
	} else if k := outbound.Classify(mail.ParseBytes(raw, mail.Limits{MaxBytes: 4 << 20}), env); k != "" {
		b = &outbound.Bounce{Kind: k}
	}
	if b == nil {
		return nil
	}
	if a := x.s.cfg.Answers; a != nil {
		dup, err := a.Queue.Store().RecordBounce(ctx, *b)
		if err != nil {
			x.s.log.Error("record bounce", "err", err)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "The bounce could not be recorded; try again"}
		}
		x.s.log.Info("bounce received", "kind", b.Kind, "mail", b.MailID, "status", b.Status, "replay", dup, "ip", x.ip)
	}
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "Received as " + kindWords[b.Kind] + ", not as a complaint"}
}

var kindWords = map[string]string{"dsn": "a delivery status notification", "bounce": "a bounce", "auto-reply": "an automatic answer",
	"reply": "an answer to the desk's mail (answers are not read; report spam in a new mail)"}

// acknowledge mails the reporter their status links, when they may be
// answered. A failure to queue the mail does not undo the stored
// complaint: it is logged.
func (x *session) acknowledge(ctx context.Context, h mail.Header, rec intake.Receipt) {
	a := x.s.cfg.Answers
	if a == nil || !a.mayAnswer(x.from, h.Outer()) || !x.answerAllowed() {
		return
	}
	it, err := a.acknowledge(ctx, x.from, h, rec)
	if answerError(err) {
		x.s.log.Error("queue acknowledgement", "complaint", rec.ComplaintID, "err", err)
	} else if err == nil {
		x.s.log.Info("acknowledgement queued", "complaint", rec.ComplaintID, "mail", it.ID)
	}
}

// answerHowTo mails the how-to to a reporter whose mail had nothing to
// report; false when it was not sent (then the SMTP answer says it).
func (x *session) answerHowTo(ctx context.Context, h mail.Header) bool {
	a := x.s.cfg.Answers
	if a == nil || !a.mayAnswer(x.from, h.Outer()) || !x.answerAllowed() {
		return false
	}
	it, err := a.howTo(ctx, x.from, h)
	if err != nil {
		if answerError(err) {
			x.s.log.Error("queue how-to answer", "err", err)
		}
		return false
	}
	x.s.log.Info("how-to answer queued", "mail", it.ID)
	return true
}

// answerAllowed takes one of the answers the client's address may cause
// this hour: one client forging many senders (or one sender's many
// subaddresses) gets the node to mail each of them only so often.
func (x *session) answerAllowed() bool {
	ok, _ := x.s.answersIP.Allow(ratelimit.Key(x.ip))
	if !ok {
		x.s.log.Warn("answers from this client's mail are over their hourly bound", "ip", x.ip)
	}
	return ok
}

// reporter says who reported a mail and whether it was relayed by a
// server rather than sent by a person. A forward or redirect made by a
// person comes from them: the envelope sender is the reporter. Mail that
// a server passed on (a Postfix alias, a .forward, a Sieve redirect
// without SRS) keeps the spam's own envelope sender, so answering it would
// mail the reporter's private status link to the spammer: it carries the
// delivery fields of the mailbox it passed through (Delivered-To,
// X-Original-To) and no Resent- block of a person's redirect. Its reporter
// is that mailbox, and it is not answered.
func (x *session) reporter(h mail.Header) (string, bool) {
	outer := h.Outer()
	if len(outer.Fields) == len(h.Fields) { // not redirected by a person
		for _, name := range []string{"Delivered-To", "X-Original-To"} {
			for _, v := range outer.Values(name) {
				addr := plainAddress(v)
				if addr == "" || x.isRcpt(addr) {
					continue // the desk's own mailbox, delivered to by its own MTA
				}
				return addr, true
			}
		}
	}
	if x.from != "" {
		return x.from, false
	}
	return plainAddress(h.Get("From")), false // a null sender: the author, if any
}

// fromAuthor reports whether a complaint is the reported spam itself,
// sent by its own author (the envelope sender is the spam's From or
// Return-Path, with no redirect): a spammer writing to the desk, or a
// spam trap hit. It is kept, and never answered.
func (x *session) fromAuthor(h mail.Header, rec intake.Receipt) bool {
	if x.from == "" || len(h.Outer().Fields) != len(h.Fields) {
		return false
	}
	for _, r := range rec.Reports {
		if r.Form != intake.FormRaw {
			return false
		}
	}
	from := strings.ToLower(x.from)
	return plainAddress(h.Get("From")) == from || plainAddress(h.Get("Return-Path")) == from
}

func (x *session) isRcpt(addr string) bool {
	for _, r := range x.rcpts {
		if r == addr {
			return true
		}
	}
	return false
}

// plainAddress is the lower-case address of a header value, or "".
func plainAddress(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		v = strings.TrimRight(v[i+1:], "> \t")
	}
	v = strings.ToLower(strings.TrimSpace(v))
	if strings.Count(v, "@") != 1 || strings.ContainsAny(v, " \t\"()<>,;") || strings.HasPrefix(v, "@") || strings.HasSuffix(v, "@") {
		return ""
	}
	return v
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Println(v ...any)               { a.l.Warn(fmt.Sprint(v...)) }
