// Package milterd is the filter's milter door (protocol version 6, for
// Postfix and Sendmail), on github.com/d--j/go-milter: the MTA hands over
// the connection, HELO, envelope, header and body; at the end of the
// message the filter's decision becomes the milter's answer:
//
//   - delivered recipients get the headers (X-Spam-Flag, X-Spam-Status,
//     X-Spam-Score, X-Accord-Reference, Authentication-Results under the
//     node's authserv-id), after the same fields forged by the sender are
//     removed;
//   - recipients whose policy holds spam are removed from the transaction
//     and their copy goes to the node's quarantine; when nobody is left the
//     message is discarded (the quarantine has it);
//   - when every recipient's policy rejects, the reply is 550 5.7.1 with
//     the reason and the decision's reference; a recipient that would
//     reject while others accept is quarantined instead (SMTP can refuse a
//     message after DATA only for everybody);
//   - a decision that cannot be taken in time is fail-open (delivered with
//     X-Accord-Filter: skipped) or a tempfail, as configured; a message
//     over the scan size is delivered with a header, never blocked; so is
//     one that finds every scan slot taken (filter.SkippedBusy), or it is
//     a tempfail, by the same setting — unless GTUBE or a block list,
//     which need no slot, decided (then it is acted on);
//   - when the quarantine cannot store a copy the MTA is told to try again
//     later (4xx): nothing is lost;
//   - an MTA connection that sends nothing for IdleTimeout is closed, and
//     connections are bounded in all and per client address (connlimit):
//     one over a bound is closed at once, and the MTA applies its own
//     milter_default_action to that session;
//   - a malformed packet (guardConn) closes its own connection before the
//     protocol library sees it: the library's panic on one used to stop
//     the whole process;
//   - a fault (panic) in a callback or in the decision is recovered
//     (guarded), logged with its stack, counted, and the message it hit
//     is answered as a timed-out one; the process goes on.
//
// The door speaks the protocol through go-milter's server (its Milter
// interface), not its mailfilter helper: that helper owns the listener and
// sets no read timeout, so a stalled MTA connection held its goroutine
// forever and no connection bound could be put in front of it.
package milterd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/d--j/go-milter"

	"github.com/accord-antispam/accord/internal/connlimit"
	"github.com/accord-antispam/accord/internal/filter"
)

// Limits bound the door's connections; zero values take the defaults.
type Limits struct {
	// IdleTimeout is how long the door waits for the MTA's next command
	// (default 6 minutes: longer than Postfix's smtpd_timeout, 300 s, for
	// which an SMTP session may wait on its client between commands).
	IdleTimeout time.Duration
	// ConnectTimeout is how long the door waits, after the opening
	// negotiation, for the MTA's connect (default 10 s): Postfix and
	// Sendmail send it at once, so a connection that negotiated and then
	// waits holds a slot for seconds, not IdleTimeout.
	ConnectTimeout time.Duration
	// MaxConns bounds the connections open at once (default 512), and
	// MaxConnsPerIP those from one address (default 128): one Postfix
	// opens one connection per smtpd process (default_process_limit 100).
	// At a bound the connection that has waited longest on its MTA (at
	// least a second) is closed to make room for the new one
	// (connlimit.Limits.Evict): on loopback the MTA and every local user
	// share one address, and refusing the new connection let a local
	// user holding idle ones switch filtering off.
	MaxConns, MaxConnsPerIP int
}

func (l Limits) withDefaults() Limits {
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 6 * time.Minute
	}
	if l.MaxConns <= 0 {
		l.MaxConns = 512
	}
	if l.MaxConnsPerIP <= 0 {
		l.MaxConnsPerIP = 128
	}
	if l.ConnectTimeout <= 0 {
		l.ConnectTimeout = 10 * time.Second
	}
	l.ConnectTimeout = min(l.ConnectTimeout, l.IdleTimeout)
	return l
}

// Server is a running milter listener.
type Server struct {
	srv *milter.Server
	l   net.Listener
	f   *filter.Service
	log *slog.Logger
	// fault, when set, is called as each callback starts, with its name:
	// the seam through which tests inject a fault into the door's own code.
	fault func(callback string)
}

// Listen starts the milter on a TCP address ("127.0.0.1:11332") or a
// unix socket ("unix:/path") with the default Limits.
func Listen(addr string, f *filter.Service, log *slog.Logger) (*Server, error) {
	return ListenWith(addr, f, log, Limits{})
}

// ListenWith starts the milter with the given Limits.
func ListenWith(addr string, f *filter.Service, log *slog.Logger, lim Limits) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lim = lim.withDefaults()
	s := &Server{f: f, log: log}
	network, address := "tcp", addr
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, address = "unix", p
	}
	l, err := listen(network, address)
	if err != nil {
		return nil, fmt.Errorf("milter listen %s: %w", addr, err)
	}
	perIP := lim.MaxConnsPerIP
	if network == "unix" {
		perIP = 0 // every client of a unix socket is the local MTA
	}
	s.l = connlimit.Wrap(l, connlimit.Limits{Max: lim.MaxConns, PerIP: perIP, Log: log, Evict: true})
	// Every reply waits for the end of the message: the MTA streams the
	// connection, recipients, header and body without a round trip each.
	protocol := milter.OptHeaderLeadingSpace | milter.OptNoUnknown | milter.OptNoConnReply | milter.OptNoHeloReply |
		milter.OptNoRcptReply | milter.OptNoHeaderReply | milter.OptNoEOHReply | milter.OptNoBodyReply
	s.srv = milter.NewServer(
		milter.WithDynamicMilter(func(_ uint32, _ milter.OptAction, p milter.OptProtocol, _ milter.DataSize) milter.Milter {
			return guarded{&session{s: s, leadingSpace: p&milter.OptHeaderLeadingSpace != 0}}
		}),
		milter.WithActions(milter.OptAddHeader|milter.OptChangeHeader|milter.OptRemoveRcpt),
		milter.WithProtocols(protocol),
		milter.WithReadTimeout(lim.IdleTimeout),
		milter.WithMacroRequest(milter.StageMail, []milter.MacroName{milter.MacroAuthAuthen}),
		milter.WithMacroRequest(milter.StageData, []milter.MacroName{milter.MacroQueueId}),
		milter.WithMacroRequest(milter.StageEOM, []milter.MacroName{milter.MacroQueueId}),
	)
	go func() {
		if err := s.srv.Serve(guardListener{s.l, lim.ConnectTimeout}); err != nil && !errors.Is(err, milter.ErrServerClosed) {
			log.Warn("milter: serve", "err", err)
		}
	}()
	return s, nil
}

// listen opens the door. A unix socket is made readable and writable by
// its owner and group only (0660): connecting needs write permission, so
// in a directory whose group is the MTA's (setgid, as docs/filter.md
// shows) the MTA can reach it and other local users cannot. A socket file
// left by a process that is gone is replaced; one somebody listens on is
// not.
func listen(network, address string) (net.Listener, error) {
	if network != "unix" {
		return net.Listen(network, address)
	}
	if fi, err := os.Lstat(address); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if c, err := net.DialTimeout("unix", address, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: another process is listening on it", address)
		}
		if err := os.Remove(address); err != nil {
			return nil, fmt.Errorf("remove the stale socket: %w", err)
		}
	}
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(address, 0o660); err != nil {
		l.Close()
		return nil, fmt.Errorf("socket permissions: %w", err)
	}
	return l, nil
}

// Addr is the listening address.
func (s *Server) Addr() net.Addr { return s.l.Addr() }

// Shutdown stops accepting connections and waits for those in progress.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close stops at once.
func (s *Server) Close() { s.srv.Close() }

// field is one header field as the MTA sent it.
type field struct {
	name, raw string // raw: "Name:value", the value as sent (folds kept)
}

// maxHeaderBytes is the most header the door keeps: the filter reads
// 512 KiB (a larger header is refused with 552 5.3.4 anyway); a little
// more is kept so that the filter, not the door, decides at the edge.
const maxHeaderBytes = 512<<10 + 64<<10

// session is one MTA connection; it collects one transaction at a time.
type session struct {
	milter.NoOpMilter
	s            *Server
	leadingSpace bool

	env     filter.Envelope // connection and envelope
	rcpts   []string        // as the MTA sent them
	fields  []field
	tooMany bool
	// headerBytes counts the header as it arrives; tooLarge: over
	// maxHeaderBytes, the rest is not kept and the message is refused.
	headerBytes int
	tooLarge    bool
	body        bytes.Buffer // up to MaxScan+1 bytes
	size        int64        // the whole body's
	// reserved is the body's share of the doors' byte budget, taken
	// chunk by chunk as it arrives (filter.Service.TryReserve); overBudget
	// says a chunk found none, and the rest was not kept: the message is
	// decided as busy (filter.Service.Unscanned).
	reserved   int64
	overBudget bool
	// failed: a callback of this transaction hit a fault (guarded), so
	// its end is answered as a failed decision; connFailed: one of the
	// connection's own (connect, helo), so every transaction is.
	failed, connFailed bool
}

// reset forgets the transaction and keeps the connection's facts.
func (t *session) reset() {
	t.env = filter.Envelope{IP: t.env.IP, Hostname: t.env.Hostname, NoRDNS: t.env.NoRDNS, Helo: t.env.Helo}
	t.rcpts, t.fields, t.tooMany, t.size = nil, nil, false, 0
	t.headerBytes, t.tooLarge = 0, false
	t.body.Reset()
	if t.reserved > 0 {
		t.s.f.Unreserve(t.reserved)
	}
	t.reserved, t.overBudget = 0, false
	t.failed = false
}

// Cleanup returns the budget when the MTA goes away mid-message.
func (t *session) Cleanup(milter.Modifier) { t.reset() }

func (t *session) NewConnection(milter.Modifier) error {
	t.env = filter.Envelope{}
	t.reset()
	t.connFailed = false
	return nil
}

func (t *session) Connect(host, family string, _ uint16, addr string, _ milter.Modifier) (*milter.Response, error) {
	t.env = filter.Envelope{}
	t.reset()
	t.connFailed = false
	if ip, err := netip.ParseAddr(addr); err == nil && (family == "tcp4" || family == "tcp6") {
		t.env.IP = ip.Unmap()
	}
	// The MTA names a client without a reverse name by its address in
	// brackets (Sendmail, and Postfix after it) or "unknown".
	switch {
	case strings.HasPrefix(host, "[") || strings.EqualFold(host, "unknown"):
		t.env.NoRDNS = t.env.IP.IsValid()
	case host != "":
		t.env.Hostname = host
	}
	return milter.RespContinue, nil
}

func (t *session) Helo(name string, _ milter.Modifier) (*milter.Response, error) {
	t.env.Helo = name
	return milter.RespContinue, nil
}

func (t *session) MailFrom(from, _ string, m milter.Modifier) (*milter.Response, error) {
	t.reset()
	t.env.MailFrom = bare(from)
	t.env.User = m.Get(milter.MacroAuthAuthen)
	return milter.RespContinue, nil
}

func (t *session) RcptTo(rcpt, _ string, _ milter.Modifier) (*milter.Response, error) {
	if len(t.rcpts) > filter.MaxRecipients {
		return milter.RespContinue, nil // refused at the end; not kept
	}
	t.rcpts = append(t.rcpts, rcpt)
	return milter.RespContinue, nil
}

func (t *session) Data(m milter.Modifier) (*milter.Response, error) {
	t.env.QueueID = m.Get(milter.MacroQueueId)
	return milter.RespContinue, nil
}

func (t *session) Header(name, value string, _ milter.Modifier) (*milter.Response, error) {
	t.headerBytes += len(name) + len(value) + 3
	if t.headerBytes > maxHeaderBytes {
		// More than the filter reads (each field may be a packet of up
		// to 1 MiB): not kept, and the message is refused at its end.
		t.tooLarge = true
		return milter.RespContinue, nil
	}
	if len(t.fields) >= filter.MaxHeaderFields {
		// Fields past the limit would be delivered unseen and could not
		// be removed: the message is refused at its end.
		t.tooMany = true
		return milter.RespContinue, nil
	}
	name = strings.Trim(name, " \t\r\n")
	if name == "" {
		return milter.RespContinue, nil
	}
	// Without the leading-space option the MTA swallowed the space after
	// the colon: put it back to rebuild the field as it was sent.
	if !t.leadingSpace && (value == "" || value[0] != '\t') {
		value = " " + value
	}
	t.fields = append(t.fields, field{name: name, raw: name + ":" + value})
	return milter.RespContinue, nil
}

func (t *session) BodyChunk(chunk []byte, _ milter.Modifier) (*milter.Response, error) {
	t.size += int64(len(chunk))
	// A little more than the scan size is kept, to know a message is
	// over it; the rest passes unread.
	if room := t.s.f.Config().MaxScan + 1 - int64(t.body.Len()); room > 0 && !t.overBudget {
		keep := min(int64(len(chunk)), room)
		if keep == 0 {
			return milter.RespContinue, nil
		}
		if !t.s.f.TryReserve(keep) {
			t.overBudget = true
			return milter.RespContinue, nil
		}
		t.reserved += keep
		t.body.Write(chunk[:keep])
	}
	return milter.RespContinue, nil
}

func (t *session) Abort(milter.Modifier) error {
	t.reset()
	return nil
}

func (t *session) EndOfMessage(m milter.Modifier) (*milter.Response, error) {
	defer t.reset()
	if t.tooMany {
		return milter.RejectWithCodeAndReason(552, fmt.Sprintf("5.3.4 Maximum allowed header lines (%d) exceeded.", filter.MaxHeaderFields))
	}
	if t.tooLarge {
		return milter.RejectWithCodeAndReason(552, fmt.Sprintf("5.3.4 Message header too large to inspect (over %d KiB)", maxHeaderBytes>>10))
	}
	if len(t.rcpts) > filter.MaxRecipients {
		return milter.RejectWithCodeAndReason(552, filter.TooManyRecipients())
	}
	if t.env.QueueID == "" {
		t.env.QueueID = m.Get(milter.MacroQueueId)
	}
	if t.failed || t.connFailed {
		return t.failure(m, t.env, t.rcpts)
	}
	var raw bytes.Buffer
	raw.Grow(t.body.Len() + 64*len(t.fields))
	for _, f := range t.fields {
		raw.WriteString(f.raw)
		raw.WriteString("\r\n")
	}
	raw.WriteString("\r\n")
	raw.Write(t.body.Bytes())
	// The decision runs while the MTA is told every second that the
	// filter is still at work (milter progress), and ends when the MTA
	// goes away.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type answer struct {
		resp  *milter.Response
		mods  *mods
		err   error
		fault bool // the decision hit a fault outside the filter's Check
	}
	done := make(chan answer, 1)
	go func() {
		// A goroutine of the door's own: a fault here is recovered here,
		// or it would stop the process.
		defer func() {
			if p := recover(); p != nil {
				t.s.f.Recovered("milter", p)
				done <- answer{fault: true}
			}
		}()
		resp, md, err := t.s.decide(ctx, t, raw.Bytes())
		done <- answer{resp, md, err, false}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var a answer
wait:
	for {
		select {
		case a = <-done:
			break wait
		case <-tick.C:
			if err := m.Progress(); err != nil && !errors.Is(err, milter.ErrVersionTooLow) {
				cancel()
				a = <-done
				if a.err == nil {
					a.err = err
				}
				break wait
			}
		}
	}
	if a.fault {
		return t.failure(m, t.env, t.rcpts)
	}
	if a.err != nil {
		// The store failing, or the MTA gone: try again later.
		t.s.log.Warn("milter: tempfail", "err", a.err)
		return milter.RespTempFail, nil
	}
	if a.mods != nil {
		if err := a.mods.send(m, t.leadingSpace); err != nil {
			return milter.RespTempFail, nil
		}
	}
	return a.resp, nil
}

// failure answers a transaction whose decision failed (a fault the door
// recovered): as a timed-out one, delivered with X-Accord-Filter:
// skipped: error, or tempfailed when so configured (tempfail_on_timeout).
func (t *session) failure(m milter.Modifier, env filter.Envelope, rcpts []string) (*milter.Response, error) {
	for _, r := range rcpts {
		env.Rcpts = append(env.Rcpts, bare(r))
	}
	d := t.s.f.Failed(env)
	if t.s.f.TimedOut(d) {
		return milter.RespTempFail, nil
	}
	md := &mods{add: t.s.f.Headers(d, "")}
	if err := md.send(m, t.leadingSpace); err != nil {
		return milter.RespTempFail, nil
	}
	return milter.RespAccept, nil
}

// guarded is a session whose callbacks recover from a fault in the
// door's or the filter's code. go-milter runs them on the connection's
// goroutine with no recover, so one panic stopped the whole process —
// every connection of every door. A fault is logged with its stack and
// counted (filter.Service.Recovered); the transaction it hit is answered
// at its end as a failed decision (failure), and a fault in the
// connection's own callbacks (connect, helo) fails each of its
// transactions.
type guarded struct{ t *session }

// catch is deferred by each callback: it recovers a fault, records it,
// and makes the callback answer continue (its transaction fails at its
// end) — or, at the end of the message, the failure itself.
func (g guarded) catch(callback string, m milter.Modifier, resp **milter.Response, err *error, tx *transaction) {
	p := recover()
	if p == nil {
		return
	}
	g.t.s.f.Recovered("milter", p)
	switch callback {
	case "connect", "helo", "new-connection":
		g.t.connFailed = true
	default:
		g.t.failed = true
	}
	if resp == nil {
		return
	}
	*resp, *err = milter.RespContinue, nil
	if callback == "end-of-message" {
		func() {
			// The failure's answer itself at fault: try again later.
			defer func() {
				if p := recover(); p != nil {
					g.t.s.f.Recovered("milter", p)
					*resp = milter.RespTempFail
				}
			}()
			*resp, *err = g.t.failure(m, tx.env, tx.rcpts)
		}()
		g.t.reset()
	}
}

// transaction is what the end of a message is answered for, taken
// before its callback runs (which forgets it as it returns).
type transaction struct {
	env   filter.Envelope
	rcpts []string
}

func (g guarded) enter(callback string) {
	if g.t.s.fault != nil {
		g.t.s.fault(callback)
	}
}

func (g guarded) NewConnection(m milter.Modifier) (err error) {
	defer g.catch("new-connection", m, nil, nil, nil)
	g.enter("new-connection")
	return g.t.NewConnection(m)
}

func (g guarded) Connect(host, family string, port uint16, addr string, m milter.Modifier) (resp *milter.Response, err error) {
	defer g.catch("connect", m, &resp, &err, nil)
	g.enter("connect")
	return g.t.Connect(host, family, port, addr, m)
}

func (g guarded) Helo(name string, m milter.Modifier) (resp *milter.Response, err error) {
	defer g.catch("helo", m, &resp, &err, nil)
	g.enter("helo")
	return g.t.Helo(name, m)
}

func (g guarded) MailFrom(from, esmtpArgs string, m milter.Modifier) (resp *milter.Response, err error) {
	defer g.catch("mail", m, &resp, &err, nil)
	g.enter("mail")
	return g.t.MailFrom(from, esmtpArgs, m)
}

func (g guarded) RcptTo(rcpt, esmtpArgs string, m milter.Modifier) (resp *milter.Response, err error) {
	defer g.catch("rcpt", m, &resp, &err, nil)
	g.enter("rcpt")
	return g.t.RcptTo(rcpt, esmtpArgs, m)
}

func (g guarded) Data(m milter.Modifier) (resp *milter.Response, err error) {
	defer g.catch("data", m, &resp, &err, nil)
	g.enter("data")
	return g.t.Data(m)
}

func (g guarded) Header(name, value string, m milter.Modifier) (resp *milter.Response, err error) {
	defer g.catch("header", m, &resp, &err, nil)
	g.enter("header")
	return g.t.Header(name, value, m)
}

func (g guarded) Headers(m milter.Modifier) (resp *milter.Response, err error) {
	defer g.catch("headers", m, &resp, &err, nil)
	g.enter("headers")
	return g.t.Headers(m)
}

func (g guarded) BodyChunk(chunk []byte, m milter.Modifier) (resp *milter.Response, err error) {
	defer g.catch("body", m, &resp, &err, nil)
	g.enter("body")
	return g.t.BodyChunk(chunk, m)
}

func (g guarded) EndOfMessage(m milter.Modifier) (resp *milter.Response, err error) {
	defer g.catch("end-of-message", m, &resp, &err, &transaction{g.t.env, g.t.rcpts})
	g.enter("end-of-message")
	return g.t.EndOfMessage(m)
}

func (g guarded) Abort(m milter.Modifier) (err error) {
	defer g.catch("abort", m, nil, nil, nil)
	g.enter("abort")
	return g.t.Abort(m)
}

func (g guarded) Unknown(cmd string, m milter.Modifier) (resp *milter.Response, err error) {
	defer g.catch("unknown", m, &resp, &err, nil)
	g.enter("unknown")
	return g.t.Unknown(cmd, m)
}

func (g guarded) Cleanup(m milter.Modifier) {
	defer g.catch("cleanup", m, nil, nil, nil)
	g.enter("cleanup")
	g.t.Cleanup(m)
}

// mods are the changes to a delivered message: recipients removed (held),
// fields deleted (forged verdicts), fields added (ours).
type mods struct {
	delRcpts []string
	delete   []deletion
	add      []filter.Header
}

type deletion struct {
	name  string
	index int // 1-based among the fields of that name, as the protocol counts
}

func (md *mods) send(m milter.Modifier, leadingSpace bool) error {
	for _, r := range md.delRcpts {
		if err := m.DeleteRecipient(r); err != nil {
			return err
		}
	}
	// Last first: deleting a field renumbers the later ones of its name.
	for i := len(md.delete) - 1; i >= 0; i-- {
		if err := m.ChangeHeader(md.delete[i].index, md.delete[i].name, ""); err != nil {
			return err
		}
	}
	for _, h := range md.add {
		v := h.Value
		if leadingSpace {
			v = " " + v // the MTA writes "Name:" and the value as given
		}
		if err := m.AddHeader(h.Name, v); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) decide(ctx context.Context, t *session, raw []byte) (*milter.Response, *mods, error) {
	env := t.env
	// Every spelling the MTA was given for one mailbox ("Q@", "q@",
	// "q+x@"), for DeleteRecipient: the filter decides per mailbox.
	orig := map[string][]string{}
	for _, r := range t.rcpts {
		b := bare(r)
		mb := s.f.Mailbox(b)
		orig[mb] = append(orig[mb], b)
		env.Rcpts = append(env.Rcpts, b)
	}
	if t.size > s.f.Config().MaxScan {
		env.Size = t.size // over the scan size: Check skips it
	}
	var d *filter.Decision
	var err error
	if t.overBudget && env.Size == 0 {
		d = s.f.Unscanned(raw, env) // the body was not all kept: decided without a scan
	} else if d, err = s.f.Guarded(ctx, "milter", raw, env); err != nil {
		return nil, nil, err // the MTA went away
	}
	if s.f.TimedOut(d) {
		return milter.RespTempFail, nil, nil
	}
	var deliver, hold []string
	rejectAll := true
	strongest := ""
	for _, r := range d.Recipients {
		switch r.Outcome {
		case filter.OutcomeReject:
			hold = append(hold, r.Recipient)
		case filter.OutcomeQuarantine:
			hold = append(hold, r.Recipient)
			rejectAll = false
		default:
			deliver = append(deliver, r.Recipient)
			rejectAll = false
			if strongest == "" || rank(r.Outcome) > rank(strongest) {
				strongest = r.Outcome
			}
		}
	}
	if len(d.Recipients) > 0 && rejectAll {
		resp, err := milter.RejectWithCodeAndReason(uint16(s.f.RejectCode(d)), s.f.RejectText(d))
		return resp, nil, err
	}
	md := &mods{}
	if len(hold) > 0 {
		if _, err := s.f.Quarantine(ctx, d, hold); err != nil {
			return nil, nil, err // tempfail: nothing is lost
		}
		// Over a quarantine quota: delivered, tagged as spam.
		notHeld := map[string]bool{}
		for _, r := range d.NotHeld {
			notHeld[r] = true
			deliver = append(deliver, r)
			strongest = filter.OutcomeSpam
		}
		if len(deliver) == 0 {
			return milter.RespDiscard, nil, nil // held in the node's quarantine
		}
		for _, r := range hold {
			if !notHeld[r] {
				md.delRcpts = append(md.delRcpts, orig[r]...)
			}
		}
	}
	md.delete = s.forged(t.fields)
	// One copy for every delivered recipient: nobody's own lists in it
	// unless it is theirs alone.
	md.add = s.f.HeadersFor(d, strongest, deliver)
	return milter.RespAccept, md, nil
}

// bare strips the angle brackets some MTAs send around addresses.
func bare(a string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(a), "<"), ">")
}

func rank(outcome string) int {
	switch outcome {
	case filter.OutcomeHam:
		return 1
	case filter.OutcomeUnsure:
		return 2
	case filter.OutcomeSpam:
		return 3
	}
	return 0 // off, and anything else
}

var unfoldRe = regexp.MustCompile(`\r?\n\s*`)

// forged lists the fields a sender could forge to look filtered: our
// verdict fields, and Authentication-Results in our name.
func (s *Server) forged(fields []field) []deletion {
	var out []deletion
	seen := map[string]int{}
	for _, f := range fields {
		key := strings.ToLower(f.name)
		seen[key]++
		del := filter.Forged(f.name)
		if strings.EqualFold(f.name, "Authentication-Results") && s.f.OwnAuthResults(unfoldRe.ReplaceAllString(f.raw[len(f.name)+1:], " ")) {
			del = true
		}
		if del {
			out = append(out, deletion{name: f.name, index: seen[key]})
		}
	}
	return out
}
