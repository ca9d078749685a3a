// Package spamd is the filter's SpamAssassin-compatible door (the spamd
// protocol, SPAMC/1.5), so that spamc and everything built on it work
// unchanged: CHECK, SYMBOLS, REPORT, REPORT_IFSPAM, PROCESS, HEADERS,
// PING, SKIP and TELL (learning), with zlib-compressed bodies.
//
// "Spam: True" means the decision tags the message as spam or would hold
// or refuse it: spamd's clients act on that flag themselves (the protocol
// has no quarantine), so this door never holds a message. A spamd User
// that is an address picks that recipient's policy.
package spamd

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accord-antispam/accord/internal/classify"
	"github.com/accord-antispam/accord/internal/connlimit"
	"github.com/accord-antispam/accord/internal/filter"
)

// Server serves the spamd protocol.
type Server struct {
	F         *filter.Service
	Log       *slog.Logger
	AllowTell bool // Accept TELL (learning); spamd's --allow-tell.
	// Allowed are the clients served besides loopback, as spamd's
	// --allowed-ips (filter.ClientAllowed).
	Allowed []netip.Prefix
	// MaxConns bounds the connections open at once (default 512), and
	// MaxConnsPerIP those from one client address (default 128; IPv6 by
	// /64): one client holding many cannot take everybody's slots. A
	// connection over a bound is answered EX_TEMPFAIL and closed.
	MaxConns      int
	MaxConnsPerIP int
	Timeout       time.Duration // To read a request (default 2 min).
	// HeaderTimeout bounds the request line and headers (default 10 s),
	// so idle connections cannot hold the slots.
	HeaderTimeout time.Duration

	mu   sync.Mutex
	l    net.Listener
	wg   sync.WaitGroup
	done chan struct{}

	// refusedTells counts TELLs refused since the last warning, which is
	// logged at most once a minute (tellWarned, Unix nanoseconds).
	refusedTells atomic.Int64
	tellWarned   atomic.Int64
}

// Serve accepts connections until Shutdown.
func (s *Server) Serve(l net.Listener) error {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	max, perIP := s.MaxConns, s.MaxConnsPerIP
	if max <= 0 {
		max = 512
	}
	if perIP <= 0 {
		perIP = 128
	}
	// Over a bound: spamd's temporary failure, which spamc reports as
	// such (exit 75 with -x) instead of waiting for a slot.
	// At a bound the connection waiting longest on its client (a
	// stalled body) makes room: spamc on the mail host shares 127.0.0.1
	// with every local user.
	l = connlimit.Wrap(l, connlimit.Limits{Max: max, PerIP: perIP, Log: s.Log, Evict: true, Refuse: func(c net.Conn, why string) {
		fmt.Fprintf(c, "SPAMD/1.5 %d %s %s\r\n\r\n", exTempFail, exNames[exTempFail], why)
	}})
	s.mu.Lock()
	s.l, s.done = l, make(chan struct{})
	s.mu.Unlock()
	for {
		c, err := l.Accept()
		if err != nil {
			select {
			case <-s.done:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			// A goroutine of the door's own: a fault in it (outside the
			// decision, which Guarded answers) is logged and counted and
			// closes its connection, not the process.
			defer func() {
				if p := recover(); p != nil {
					s.F.Recovered("spamd", p)
					c.Close()
				}
			}()
			s.handle(c)
		}()
	}
}

// Shutdown stops accepting and waits for the connections in progress.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.l != nil {
		close(s.done)
		s.l.Close()
	}
	s.mu.Unlock()
	ch := make(chan struct{})
	go func() { s.wg.Wait(); close(ch) }()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sysexits codes spamd answers with.
const (
	exOK       = 0
	exUsage    = 64
	exDataErr  = 65
	exUnavail  = 69
	exSoftware = 70
	exTempFail = 75
	exProtocol = 76
	exNoPerm   = 77
)

var exNames = map[int]string{exOK: "EX_OK", exUsage: "EX_USAGE", exDataErr: "EX_DATAERR", exSoftware: "EX_SOFTWARE", exUnavail: "EX_UNAVAILABLE",
	exTempFail: "EX_TEMPFAIL", exProtocol: "EX_PROTOCOL", exNoPerm: "EX_NOPERM"}

type request struct {
	cmd     string
	version string
	headers map[string]string
	body    []byte
	// reserved are the shares of the doors' byte budget taken for the
	// body (filter.Service.Reserve), returned once it is answered.
	reserved []int64
}

const maxLine = 8 << 10

// maxDrain is how much of a message over the scan size is read (and
// thrown away) so that the client, still sending, gets the EX_DATAERR
// answer instead of a reset connection; a larger one is cut off.
const maxDrain = 256 << 20

func (s *Server) handle(c net.Conn) {
	defer c.Close()
	if !filter.ClientAllowed(c.RemoteAddr().String(), s.Allowed) {
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "SPAMD/1.5 %d %s this client is not in [filter] allowed_ips\r\n\r\n", exNoPerm, exNames[exNoPerm])
		return
	}
	to := s.Timeout
	if to <= 0 {
		to = 2 * time.Minute
	}
	// The request line and headers come at once from spamc: a client
	// that sends nothing holds a slot for seconds, not minutes.
	ht := s.HeaderTimeout
	if ht <= 0 {
		ht = 10 * time.Second
	}
	c.SetDeadline(time.Now().Add(min(to, ht)))
	br := bufio.NewReaderSize(c, 16<<10)
	req, code, err := s.read(br, func() { c.SetDeadline(time.Now().Add(to)) })
	if req != nil {
		defer func() {
			for _, n := range req.reserved {
				s.F.Unreserve(n)
			}
		}()
	}
	if err != nil {
		if code != 0 {
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c, "SPAMD/1.5 %d %s %s\r\n\r\n", code, exNames[code], oneLine(err.Error()))
		}
		return
	}
	c.SetDeadline(time.Now().Add(to))
	out := s.answer(context.Background(), req)
	c.Write(out)
}

func oneLine(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }

func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		part, more, err := br.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, part...)
		if len(b) > maxLine {
			return "", errors.New("line too long")
		}
		if !more {
			return string(b), nil
		}
	}
}

func (s *Server) read(br *bufio.Reader, onBody func()) (*request, int, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, exProtocol, fmt.Errorf("bad request line: %v", err)
	}
	cmd, ver, ok := strings.Cut(strings.TrimSpace(line), " ")
	if !ok || !strings.HasPrefix(ver, "SPAMC/") {
		return nil, exProtocol, fmt.Errorf("bad request line %q", truncate(line))
	}
	req := &request{cmd: strings.ToUpper(cmd), version: strings.TrimPrefix(ver, "SPAMC/"), headers: map[string]string{}}
	for i := 0; ; i++ {
		if i > 50 {
			return nil, exProtocol, errors.New("too many header lines")
		}
		h, err := readLine(br)
		if err != nil {
			return nil, exProtocol, fmt.Errorf("bad header: %v", err)
		}
		if h == "" {
			break
		}
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return nil, exProtocol, fmt.Errorf("bad header line: %s", truncate(h))
		}
		req.headers[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	switch req.cmd {
	case "PING", "SKIP":
		return req, 0, nil
	case "CHECK", "SYMBOLS", "REPORT", "REPORT_IFSPAM", "PROCESS", "HEADERS", "TELL":
	default:
		return nil, exProtocol, fmt.Errorf("unknown command %q", truncate(req.cmd))
	}
	if onBody != nil {
		onBody()
	}
	max := s.F.Config().MaxScan
	var body []byte
	if cl, ok := req.headers["content-length"]; ok {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			return nil, exProtocol, fmt.Errorf("bad content-length %q", truncate(cl))
		}
		if n > max {
			// Read what the client sends before answering: closing on
			// a client still writing resets the connection, and spamc
			// would see a protocol error (76) instead of this answer.
			if n <= maxDrain {
				io.CopyN(io.Discard, br, n)
			}
			return nil, exDataErr, fmt.Errorf("message of %d bytes is over the scan size (%d)", n, max)
		}
		if !s.reserve(req, n) {
			return req, exTempFail, errBusy
		}
		// Into a buffer that grows as the bytes arrive, not one of the
		// declared length: a client that declares 20 MiB and stalls
		// holds what it sent.
		var buf bytes.Buffer
		if _, err := io.CopyN(&buf, br, n); err != nil {
			return req, exProtocol, fmt.Errorf("message shorter than its content-length: %v", err)
		}
		body = buf.Bytes()
	} else {
		// Old clients send no length and half-close.
		if !s.reserve(req, max+1) {
			return req, exTempFail, errBusy
		}
		body, err = io.ReadAll(io.LimitReader(br, max+1))
		if err != nil {
			return req, exProtocol, err
		}
		if int64(len(body)) > max {
			io.Copy(io.Discard, io.LimitReader(br, maxDrain))
			return req, exDataErr, fmt.Errorf("message over the scan size (%d)", max)
		}
	}
	if strings.EqualFold(req.headers["compress"], "zlib") {
		if !s.reserve(req, max+1) { // the message inflated
			return req, exTempFail, errBusy
		}
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return req, exDataErr, fmt.Errorf("bad zlib body: %v", err)
		}
		body, err = io.ReadAll(io.LimitReader(zr, max+1))
		if err != nil {
			return req, exDataErr, fmt.Errorf("bad zlib body: %v", err)
		}
		if int64(len(body)) > max {
			return req, exDataErr, fmt.Errorf("message over the scan size (%d)", max)
		}
	}
	req.body = body
	return req, 0, nil
}

var errBusy = errors.New("the filter is busy, try again later")

// reserve takes n more bytes of the doors' byte budget for req (returned
// by handle once the request is answered), waiting up to scan_wait.
func (s *Server) reserve(req *request, n int64) bool {
	if !s.F.Reserve(context.Background(), n) {
		return false
	}
	req.reserved = append(req.reserved, n)
	return true
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func status(code int, text string) string { return fmt.Sprintf("SPAMD/1.1 %d %s\r\n", code, text) }

func (s *Server) answer(ctx context.Context, req *request) []byte {
	var b bytes.Buffer
	switch req.cmd {
	case "PING":
		return []byte("SPAMD/1.5 0 PONG\r\n")
	case "SKIP":
		return nil
	case "TELL":
		return s.tell(ctx, req)
	}
	if len(req.body) == 0 {
		return []byte(status(exDataErr, "EX_DATAERR empty message") + "\r\n")
	}
	env := filter.Envelope{}
	if u := req.headers["user"]; strings.Contains(u, "@") {
		env.DeliverTo = u
	}
	d, err := s.F.Guarded(ctx, "spamd", req.body, env)
	if err != nil {
		return []byte(status(exTempFail, "EX_TEMPFAIL "+oneLine(err.Error())) + "\r\n")
	}
	if d.Skipped == filter.SkippedError && s.F.TimedOut(d) {
		// The decision failed (a fault, logged and counted) and the
		// filter is set to tempfail.
		return []byte(status(exTempFail, "EX_TEMPFAIL the filter failed on this message, try again later (reference "+d.Reference+")") + "\r\n")
	}
	if d.Busy() {
		// Every scan slot is taken: try again later (spamc -x exits 75;
		// without -x it passes the message unchanged, its safe fallback).
		return []byte(status(exTempFail, "EX_TEMPFAIL the filter is busy, try again later (reference "+d.Reference+")") + "\r\n")
	}
	isSpam := d.Outcome == filter.OutcomeSpam || d.Outcome == filter.OutcomeQuarantine || d.Outcome == filter.OutcomeReject
	spamLine := fmt.Sprintf("Spam: %s ; %.1f / %.1f\r\n", map[bool]string{true: "True", false: "False"}[isSpam], d.ListedScore(), d.Required)
	b.WriteString(status(exOK, "EX_OK"))
	switch req.cmd {
	case "CHECK":
		b.WriteString(spamLine + "\r\n")
	case "SYMBOLS":
		body := strings.Join(symbolNames(d), ",")
		fmt.Fprintf(&b, "%sContent-length: %d\r\n\r\n%s", spamLine, len(body), body)
	case "REPORT", "REPORT_IFSPAM":
		body := ""
		if req.cmd == "REPORT" || isSpam {
			body = report(d)
		}
		fmt.Fprintf(&b, "%sContent-length: %d\r\n\r\n%s", spamLine, len(body), body)
	case "PROCESS", "HEADERS":
		msg := rewrite(s.F, d, req.body, req.cmd == "HEADERS")
		fmt.Fprintf(&b, "%sContent-length: %d\r\n\r\n", spamLine, len(msg))
		b.Write(msg)
	}
	return b.Bytes()
}

// symbolNames lists the symbols spamd style; restricted evidence shows as
// one anonymous name, since clients copy this list into headers.
func symbolNames(d *filter.Decision) []string {
	var out []string
	restricted := false
	for _, sy := range d.AllSymbols() {
		if sy.Restricted {
			restricted = true
			continue
		}
		out = append(out, sy.Name)
	}
	if restricted {
		out = append(out, "ACCORD_INTEL_RESTRICTED")
	}
	return out
}

// doorOutcome is the outcome as this door acts on it: the spamd protocol
// has no quarantine and no refusal, so a decision the milter would hold
// or reject is spam here (the client decides what to do with it).
func doorOutcome(outcome string) string {
	switch outcome {
	case filter.OutcomeQuarantine, filter.OutcomeReject:
		return filter.OutcomeSpam + " (the recipient's policy would " + map[string]string{filter.OutcomeQuarantine: "hold", filter.OutcomeReject: "refuse"}[outcome] +
			" it at the milter; this door holds and refuses nothing)"
	}
	return outcome
}

func report(d *filter.Decision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Accord filter decision %s: score %.2f, required %.2f, outcome %s\r\n\r\n", d.Reference, d.ListedScore(), d.Required, doorOutcome(d.Outcome))
	b.WriteString(" pts rule name              description\r\n")
	b.WriteString("---- ---------------------- --------------------------------------------------\r\n")
	restricted := 0.0
	for _, sy := range d.AllSymbols() {
		if sy.Restricted {
			restricted += sy.Score
			continue
		}
		fmt.Fprintf(&b, "%4.1f %-22s %s\r\n", sy.Score, sy.Name, oneLine(sy.Description))
	}
	if restricted != 0 {
		fmt.Fprintf(&b, "%4.1f %-22s %s\r\n", restricted, "ACCORD_INTEL_RESTRICTED", "indicators shared under TLP:AMBER or above")
	}
	return b.String()
}

// rewrite returns the message with the filter's headers first (its forged
// copies removed), or only its header for HEADERS. The header ends at the
// first empty line, and the message's own line ending (CRLF or LF, from
// its first line) is kept.
func rewrite(f *filter.Service, d *filter.Decision, raw []byte, headersOnly bool) []byte {
	nl := "\r\n"
	if i := bytes.IndexByte(raw, '\n'); i >= 0 && (i == 0 || raw[i-1] != '\r') {
		nl = "\n"
	}
	// Split into whole fields (first line and continuation lines).
	var fields [][]byte
	rest := raw
	var body []byte
	for len(rest) > 0 {
		j := bytes.IndexByte(rest, '\n')
		line := rest
		if j >= 0 {
			line = rest[:j+1]
		}
		rest = rest[len(line):]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			body = rest
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] = append(fields[len(fields)-1], line...)
			continue
		}
		fields = append(fields, append([]byte(nil), line...))
	}
	var out bytes.Buffer
	for _, h := range f.Headers(d, d.Outcome) {
		out.WriteString(h.Name + ": " + strings.ReplaceAll(h.Value, "\n", nl) + nl)
	}
	// Copy the original header minus the fields we own.
	for _, fl := range fields {
		name, value, _ := strings.Cut(string(fl), ":")
		name = strings.TrimSpace(name)
		skip := filter.Forged(name)
		if strings.EqualFold(name, "Authentication-Results") && f.OwnAuthResults(value) {
			skip = true
		}
		if !skip {
			out.Write(fl)
		}
	}
	out.WriteString(nl)
	if !headersOnly {
		out.Write(body)
	}
	return out.Bytes()
}

// warnTell logs refused TELLs: Debian's spamc -L prints "Message was
// already un/learned" and exits 0 on the refusal, so a postmaster training
// from scripts learns nothing without a word, unless the node says it.
func (s *Server) warnTell() {
	n := s.refusedTells.Add(1)
	now := time.Now().UnixNano()
	last := s.tellWarned.Load()
	if now-last < int64(time.Minute) || !s.tellWarned.CompareAndSwap(last, now) {
		return
	}
	s.refusedTells.Add(-n)
	s.Log.Warn("spamd: TELL (learning, spamc -L) refused: it is off; set [filter] spamd_allow_tell = true to learn from spamd clients",
		"refused", n)
}

func (s *Server) tell(ctx context.Context, req *request) []byte {
	if !s.AllowTell {
		s.warnTell()
		return []byte(status(exNoPerm, "EX_NOPERM TELL commands are not enabled; set [filter] spamd_allow_tell") + "\r\n")
	}
	class := strings.ToLower(req.headers["message-class"])
	set, remove := req.headers["set"], req.headers["remove"]
	if class != "spam" && class != "ham" {
		return []byte(status(exProtocol, "EX_PROTOCOL Message-class must be spam or ham") + "\r\n")
	}
	if len(req.body) == 0 {
		return []byte(status(exDataErr, "EX_DATAERR empty message") + "\r\n")
	}
	if strings.Contains(remove, "local") {
		// The filter corrects a message by learning it as the other
		// class; it does not forget one outright.
		return []byte(status(exUnavail, "EX_UNAVAILABLE forgetting a message is not supported: learn it as the other class") + "\r\n")
	}
	var b bytes.Buffer
	b.WriteString(status(exOK, "EX_OK"))
	if strings.Contains(set, "local") {
		out, err := s.F.Learn(ctx, req.body, class == "spam", "spamd")
		if errors.Is(err, filter.ErrNotMail) {
			// spamc -L shows any refusal as "already un/learned" and
			// exits 0: the log says what happened.
			s.Log.Warn("spamd: TELL refused: not a mail message", "err", err)
			return []byte(status(exDataErr, "EX_DATAERR "+oneLine(err.Error())) + "\r\n")
		} else if err != nil {
			return []byte(status(exTempFail, "EX_TEMPFAIL "+oneLine(err.Error())) + "\r\n")
		}
		// DidSet says the message was learned now (new, or corrected from
		// the other class); one already learned as this class gets none,
		// which spamc shows as "Message was already un/learned".
		if out != classify.Known {
			b.WriteString("DidSet: local\r\n")
		}
	}
	b.WriteString("\r\n")
	return b.Bytes()
}
