package outbound

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// dialer opens a session with the relay, TLS and AUTH done.
type dialer func(ctx context.Context) (*smtp.Client, error)

var errNoRelay = errors.New("no relay configured ([outbound] relay)")

func newDialer(cfg Config) (dialer, error) {
	if cfg.Relay == "" {
		return func(context.Context) (*smtp.Client, error) { return nil, errNoRelay }, nil
	}
	u, err := url.Parse(cfg.Relay)
	if err != nil || u.Host == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		return nil, fmt.Errorf("outbound: relay %q: want smtp://host:port or smtps://host:port", cfg.Relay)
	}
	host := u.Hostname()
	addr := u.Host
	if u.Port() == "" {
		if u.Scheme == "smtps" {
			addr = net.JoinHostPort(host, "465")
		} else {
			addr = net.JoinHostPort(host, "587")
		}
	}
	mode := cfg.TLS
	if u.Scheme == "smtps" {
		mode = "implicit"
	}
	if mode == "" {
		mode = "starttls"
	}
	switch mode {
	case "starttls", "implicit", "none":
	default:
		return nil, fmt.Errorf("outbound: tls %q: want starttls, implicit or none", cfg.TLS)
	}
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		loopback = true
	}
	if mode == "none" && cfg.Username != "" && !loopback {
		return nil, errors.New("outbound: a password is never sent in clear to a relay that is not on this machine: use tls = \"starttls\"")
	}
	tlsConf := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs}
	return func(ctx context.Context) (*smtp.Client, error) {
		d := net.Dialer{Timeout: 30 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		if dl, ok := ctx.Deadline(); ok {
			conn.SetDeadline(dl)
		}
		var c *smtp.Client
		switch mode {
		case "implicit":
			c = smtp.NewClient(tls.Client(conn, tlsConf))
		case "starttls":
			if c, err = smtp.NewClientStartTLS(conn, tlsConf); err != nil {
				return nil, fmt.Errorf("STARTTLS with %s: %w", addr, err)
			}
		default:
			c = smtp.NewClient(conn)
		}
		c.CommandTimeout, c.SubmissionTimeout = time.Minute, 2*time.Minute
		if err := c.Hello(cfg.HelloName); err != nil && !strings.Contains(err.Error(), "called twice") {
			c.Close()
			return nil, err
		}
		if cfg.Username != "" {
			if err := c.Auth(sasl.NewPlainClient("", cfg.Username, cfg.Password)); err != nil {
				c.Close()
				return nil, fmt.Errorf("AUTH as %s: %w", cfg.Username, err)
			}
		}
		return c, nil
	}, nil
}

// Run delivers due mail until ctx ends: at once after Send, and every Poll
// for mail queued by other instances or due for a retry.
func (q *Queue) Run(ctx context.Context) {
	t := time.NewTicker(q.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := q.DeliverDue(ctx); err != nil && ctx.Err() == nil {
			q.log.Warn("outbound: delivery pass", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		case <-t.C:
		}
	}
}

// DeliverDue makes one pass over the due mail and returns how many were
// sent.
func (q *Queue) DeliverDue(ctx context.Context) (int, error) {
	sent := 0
	for {
		items, err := q.st.ClaimMail(ctx, q.owner, q.now().UTC(), q.cfg.Timeout*3, 20)
		if err != nil {
			return sent, fmt.Errorf("claim mail: %w", err)
		}
		if len(items) == 0 {
			return sent, nil
		}
		for _, it := range items {
			if q.deliver(ctx, it) {
				sent++
			}
		}
		if ctx.Err() != nil {
			return sent, ctx.Err()
		}
	}
}

// deliver makes one attempt and records it.
func (q *Queue) deliver(ctx context.Context, it Item) bool {
	now := q.now().UTC()
	it.Attempts++
	err := q.send(ctx, it)
	state, next, msg := Sent, time.Time{}, ""
	if err != nil {
		msg = err.Error()
		var se *smtp.SMTPError
		var re relayError
		switch {
		case !errors.As(err, &re) && errors.As(err, &se) && se.Code >= 500:
			state = Failed
		case now.Sub(it.CreatedAt) >= q.cfg.MaxAge:
			state, msg = Failed, "gave up after "+q.cfg.MaxAge.String()+": "+msg
		default:
			state, next = Queued, now.Add(q.backoff(it.Attempts))
		}
	}
	if ferr := q.st.FinishMail(context.WithoutCancel(ctx), it.ID, state, it.Attempts, next, msg, now); ferr != nil {
		q.log.Error("outbound: record delivery", "mail", it.ID, "err", ferr)
	} else if state != Queued {
		it.State, it.LastError = state, msg
		for _, fn := range q.done {
			fn(context.WithoutCancel(ctx), it)
		}
	}
	switch state {
	case Sent:
		q.log.Info("outbound: sent", "mail", it.ID, "kind", it.Kind, "ref", it.Ref)
	case Failed:
		q.log.Warn("outbound: failed for good", "mail", it.ID, "kind", it.Kind, "ref", it.Ref, "err", msg)
	default:
		q.log.Info("outbound: will retry", "mail", it.ID, "attempt", it.Attempts, "at", next.Format(time.RFC3339), "err", msg)
	}
	return state == Sent
}

// backoff doubles from Backoff up to four hours, with up to a quarter of
// jitter so instances and mails spread out.
func (q *Queue) backoff(attempt int) time.Duration {
	d := q.cfg.Backoff
	for i := 1; i < attempt && d < 4*time.Hour; i++ {
		d *= 2
	}
	d = min(d, 4*time.Hour)
	var b [1]byte
	rand.Read(b[:])
	return d + d*time.Duration(b[0])/1024
}

func (q *Queue) send(ctx context.Context, it Item) error {
	ctx, cancel := context.WithTimeout(ctx, q.cfg.Timeout)
	defer cancel()
	msg, err := q.Message(it)
	if err != nil {
		return err
	}
	c, err := q.dial(ctx)
	if err != nil {
		return relayError{err}
	}
	defer c.Close()
	if err := c.Mail(it.From, nil); err != nil {
		return err
	}
	if err := c.Rcpt(it.To, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	c.Quit()
	return nil
}

// relayError is a failure to reach or log in to the relay: the operator's
// problem, never the mail's, so the mail is tried again.
type relayError struct{ err error }

func (e relayError) Error() string { return "relay: " + e.err.Error() }
func (e relayError) Unwrap() error { return e.err }

// Message is what a delivery attempt sends: the node's own mail marked
// (Marked) and signed (Sign); someone else's message delivered on (a
// quarantine release, Item.Relayed) as it was queued, neither marked nor
// signed, as any MTA relays a message: the node's signature over a
// sender's From and text would vouch for them in the node's name.
func (q *Queue) Message(it Item) ([]byte, error) {
	if it.Relayed() {
		return it.Raw, nil
	}
	return q.Sign(q.Marked(it))
}

// Marked is the node's own mail as a delivery attempt sends it: with the node's
// own-mail mark on top (package ownmail) for its one recipient, made now,
// so that the node's filter, when the relay is the MTA it filters for,
// delivers it unscanned — a digest lists held subjects, and scanned it
// was held or tagged for their words. Without a MarkKey, it.Raw.
func (q *Queue) Marked(it Item) []byte {
	return q.mark.Mark(it.Raw, it.ID, it.To, q.now())
}

// Sign adds the node's DKIM signature (relaxed/relaxed, SHA-256) over the
// fields a receiver shows or threads on. Without a key it returns the
// message unchanged.
func (q *Queue) Sign(raw []byte) ([]byte, error) {
	if q.cfg.DKIM == nil {
		return raw, nil
	}
	var b bytes.Buffer
	err := dkim.Sign(&b, bytes.NewReader(raw), &dkim.SignOptions{
		Domain: q.domain, Selector: q.cfg.Selector, Signer: q.cfg.DKIM, Hash: crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "Auto-Submitted",
			"MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-Language"},
	})
	if err != nil {
		return nil, fmt.Errorf("DKIM sign: %w", err)
	}
	return b.Bytes(), nil
}

// DNSRecord is the TXT record to publish at SELECTOR._domainkey.DOMAIN so
// that receivers can verify the node's signatures.
func (q *Queue) DNSRecord() (name, value string, err error) {
	if q.cfg.DKIM == nil {
		return "", "", errors.New("outbound: no DKIM key")
	}
	v, err := DKIMRecord(q.cfg.DKIM.Public())
	return q.cfg.Selector + "._domainkey." + q.domain, v, err
}

// DKIMRecord is the DKIM key record (RFC 6376 3.6.1) of a public key.
func DKIMRecord(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	k := "rsa"
	if _, ok := pub.(*rsa.PublicKey); !ok {
		return "", errors.New("outbound: DKIM keys are RSA")
	}
	return "v=DKIM1; k=" + k + "; p=" + base64.StdEncoding.EncodeToString(der), nil
}

// LoadOrCreateDKIMKey reads the node's DKIM key (PEM, PKCS #8) or creates
// an RSA-2048 one: RSA because every receiver verifies it (Ed25519 DKIM,
// RFC 8463, is still ignored by large providers).
func LoadOrCreateDKIMKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("DKIM key %s: not PEM", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			if rk, err2 := x509.ParsePKCS1PrivateKey(blk.Bytes); err2 == nil {
				return rk, nil
			}
			return nil, fmt.Errorf("DKIM key %s: %w", path, err)
		}
		s, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("DKIM key %s: want an RSA key", path)
		}
		return s, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("DKIM key: %w", err)
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("DKIM key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("DKIM key: %w", err)
	}
	return k, nil
}
