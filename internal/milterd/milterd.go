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
//     over the scan size is delivered with a header, never blocked;
//   - when the quarantine cannot store a copy the MTA is told to try again
//     later (4xx): nothing is lost.
package milterd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/d--j/go-milter/mailfilter"

	"github.com/accord-antispam/accord/internal/filter"
)

// Server is a running milter listener.
type Server struct {
	mf  *mailfilter.MailFilter
	f   *filter.Service
	log *slog.Logger
}

// Listen starts the milter on a TCP address ("127.0.0.1:11332") or a
// unix socket ("unix:/path").
func Listen(addr string, f *filter.Service, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{f: f, log: log}
	network, address := "tcp", addr
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, address = "unix", p
	}
	max := f.Config().MaxScan
	mf, err := mailfilter.New(network, address, s.decide,
		mailfilter.WithDecisionAt(mailfilter.DecisionAtEndOfMessage),
		// Keep a little more than the scan size, to know when a message
		// is over it; the rest passes unread.
		mailfilter.WithBody(256<<10, max+1, mailfilter.TruncateWhenTooBig),
		// A message with more fields than the filter reads is refused
		// (552 5.3.4): fields past the limit would be delivered unseen
		// and could not be removed.
		mailfilter.WithHeader(uint32(filter.MaxHeaderFields), mailfilter.RejectMessageWhenTooBig),
		// Errors (the store failing) ask the MTA to try again later.
		mailfilter.WithErrorHandling(mailfilter.TempFailWhenError),
	)
	if err != nil {
		return nil, fmt.Errorf("milter listen %s: %w", addr, err)
	}
	s.mf = mf
	return s, nil
}

// Addr is the listening address.
func (s *Server) Addr() net.Addr { return s.mf.Addr() }

// Shutdown stops accepting connections and waits for those in progress.
func (s *Server) Shutdown(ctx context.Context) error { return s.mf.Shutdown(ctx) }

// Close stops at once.
func (s *Server) Close() { s.mf.Close() }

func (s *Server) decide(ctx context.Context, trx mailfilter.Trx) (mailfilter.Decision, error) {
	env := filter.Envelope{QueueID: trx.QueueId()}
	if c := trx.Connect(); c != nil {
		if ip, err := netip.ParseAddr(c.Addr); err == nil && (c.Family == "tcp4" || c.Family == "tcp6") {
			env.IP = ip.Unmap()
		}
		if c.Host != "" && !strings.HasPrefix(c.Host, "[") {
			env.Hostname = c.Host
		}
	}
	if h := trx.Helo(); h != nil {
		env.Helo = h.Name
	}
	if mf := trx.MailFrom(); mf != nil {
		env.MailFrom = bare(mf.Addr)
		env.User = mf.AuthenticatedUser()
	}
	// Every spelling the MTA was given for one mailbox ("Q@", "q@",
	// "q+x@"), for DelRcptTo: the filter decides per mailbox.
	orig := map[string][]string{}
	for _, r := range trx.RcptTos() {
		b := bare(r.Addr)
		m := s.f.Mailbox(b)
		orig[m] = append(orig[m], r.Addr)
		env.Rcpts = append(env.Rcpts, b)
	}
	max := s.f.Config().MaxScan
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(trx.Data(), max+1)); err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	raw := buf.Bytes()
	if body := trx.Body(); body != nil {
		if n, err := body.Seek(0, io.SeekEnd); err == nil && n > max {
			env.Size = n // over the scan size: Check skips it
		}
	}
	d, err := s.f.Check(ctx, raw, env)
	if err != nil {
		return nil, err // the MTA went away
	}
	if s.f.TimedOut(d) {
		return mailfilter.TempFail, nil
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
		return mailfilter.CustomErrorResponse(550, s.f.RejectText(d)), nil
	}
	if len(hold) > 0 {
		if _, err := s.f.Quarantine(ctx, d, hold); err != nil {
			return nil, err // tempfail: nothing is lost
		}
		// Over a quarantine quota: delivered, tagged as spam.
		notHeld := map[string]bool{}
		for _, r := range d.NotHeld {
			notHeld[r] = true
			deliver = append(deliver, r)
			strongest = filter.OutcomeSpam
		}
		if len(deliver) == 0 {
			return mailfilter.Discard, nil // held in the node's quarantine
		}
		for _, r := range hold {
			if !notHeld[r] {
				for _, a := range orig[r] {
					trx.DelRcptTo(a)
				}
			}
		}
	}
	s.cleanHeaders(trx)
	for _, h := range s.f.Headers(d, strongest) {
		trx.Headers().Add(h.Name, h.Value)
	}
	return mailfilter.Accept, nil
}

// bare strips the angle brackets some MTAs send around addresses.
func bare(a string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(a), "<"), ">")
}

func rank(outcome string) int {
	return map[string]int{filter.OutcomeOff: 0, filter.OutcomeHam: 1, filter.OutcomeUnsure: 2, filter.OutcomeSpam: 3}[outcome]
}

// cleanHeaders removes fields a sender could forge to look filtered.
func (s *Server) cleanHeaders(trx mailfilter.Trx) {
	f := trx.Headers().Fields()
	for f.Next() {
		if f.IsDeleted() {
			continue
		}
		k := f.CanonicalKey()
		for _, r := range filter.RemoveHeaders {
			if strings.EqualFold(k, r) {
				f.Del()
			}
		}
		if strings.EqualFold(k, "Authentication-Results") && s.f.OwnAuthResults(f.UnfoldedValue()) {
			f.Del()
		}
	}
}
