package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/label"
	"github.com/accord-antispam/accord/internal/lint"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/nodekey"
	"github.com/accord-antispam/accord/internal/web"
)

const labelHelp = `subcommands:
  verify --key NODEKEY [--key …] [--status FILE] [--resolver live|ZONE|offline] MESSAGE.eml
                 check a message's label offline against the issuers' keys
  revoke ID --reason TEXT [--data DIR]   revoke a label this node issued
  list [--sender DOMAIN] [--data DIR]    labels this node issued
`

func cmdLabel(ctx context.Context, e *env, args []string) error {
	return subcommands(ctx, e, "label", args, map[string]func(context.Context, *env, []string) error{
		"verify": labelVerify, "revoke": labelRevoke, "list": labelList,
	}, labelHelp)
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// labelVerify checks a message's label as a filter would, offline: exit 0
// valid, 1 not valid (invalid, expired, revoked, untrusted, none), 2 usage.
func labelVerify(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("label verify", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var keys multiFlag
	fs.Var(&keys, "key", "an issuing node's public key (accord node key) to trust; repeat for several")
	statusFile := fs.String("status", "", "the issuer's status list (GET /labels/v1/status), to check revocations")
	resolver := fs.String("resolver", "offline", "DNS for the DKIM check: offline (the signature is not verified), live, or a fixture zone file")
	pos, err := parseInterleaved(fs, args)
	if err == nil && len(pos) == 1 && len(keys) == 0 {
		fmt.Fprintln(e.stderr, "accord label verify: --key is required: the issuing node's public key (accord node key on that node, or its /api/v1/node)")
	}
	if err != nil || len(pos) != 1 || len(keys) == 0 {
		fmt.Fprintln(e.stderr, "usage: accord label verify --key NODEKEY [--key …] [--status FILE] [--resolver …] MESSAGE.eml")
		fmt.Fprintln(e.stderr, "Exit 0: a valid label, not revoked by a fresh status list; 1: no valid label; 2: usage;")
		fmt.Fprintln(e.stderr, "3: a genuine label whose revocation state is unknown (no --status, or a stale list).")
		return errUsage
	}
	var issuers []label.Issuer
	for _, k := range keys {
		k = strings.TrimSpace(k)
		pub, err := label.PublicKey(k)
		if err != nil && strings.HasPrefix(strings.ToUpper(k), "SHA256:") {
			// consent verify and evidence verify take a fingerprint, since
			// their files carry the key it pins; a label carries no key.
			err = fmt.Errorf("--key %q is a fingerprint: a label carries no key to pin, so give the issuing node's public key itself (accord node key on that node, or its /api/v1/node)", k)
		}
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		// Named by its fingerprint, as accord node fingerprint prints it.
		issuers = append(issuers, label.Issuer{Name: "node key " + nodekey.FingerprintOf(pub), Key: pub})
	}
	if *statusFile != "" {
		b, err := os.ReadFile(*statusFile)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		matched := false
		for i := range issuers {
			if st, err := label.ReadStatus(bytes.NewReader(b), issuers[i].Key); err == nil {
				issuers[i].Status, matched = st, true
			}
		}
		if !matched {
			return fmt.Errorf("--status: the list is not signed by any of the keys given")
		}
	}
	res, err := newResolver("--resolver", *resolver)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	an := &analysis.Analyzer{Resolver: res, Labels: label.NewVerifier(nil, issuers...), Logger: e.log}
	raw, err := os.ReadFile(pos[0])
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	v, err := an.Analyze(ctx, analysis.Input{Source: pos[0], Message: mail.ParseBytes(raw, mail.DefaultLimits())})
	if err != nil {
		return err
	}
	r := v.Label
	if r == nil {
		fmt.Fprintf(e.stdout, "%s: no %s field\n", pos[0], label.Header)
		return &exitError{code: 1}
	}
	fmt.Fprintf(e.stdout, "%s: label %s: %s\n  %s\n", pos[0], r.ID, strings.ToUpper(r.Status), r.Reason)
	if r.Sender != "" {
		issuer := "the node whose label key id (n=) is " + r.IssuerKey
		if r.Issuer != "" {
			issuer = r.Issuer
		}
		fmt.Fprintf(e.stdout, "  sender %s, domain %s, issuer %s, expires %s\n", r.Sender, r.Domain, issuer, r.Expires.Format(time.RFC3339))
	}
	switch r.Status {
	case label.Valid:
		return nil
	case label.RevocationUnknown:
		return &exitError{code: 3}
	}
	return &exitError{code: 1}
}

func labelRevoke(ctx context.Context, e *env, args []string) error {
	fs, nf := nodeFlagSet(e, "label revoke")
	reason := fs.String("reason", "", "why (published in the status list)")
	pos, err := parseInterleaved(fs, args)
	if err != nil || len(pos) != 1 || *reason == "" {
		fmt.Fprintln(e.stderr, "usage: accord label revoke ID --reason TEXT [--data DIR]")
		return errUsage
	}
	n, err := openSenders(ctx, e, nf)
	if err != nil {
		return err
	}
	defer n.store.Close()
	if err := n.store.RevokeLabel(ctx, pos[0], time.Now(), *reason); err != nil {
		if errors.Is(err, label.ErrNotFound) {
			return &exitError{code: 1, err: fmt.Errorf("no label %s was issued by this node", pos[0])}
		}
		return err
	}
	fmt.Fprintf(e.stdout, "label %s revoked; the node's status list says so at once, its own filter within a minute\n", pos[0])
	return nil
}

func labelList(ctx context.Context, e *env, args []string) error {
	fs, nf := nodeFlagSet(e, "label list")
	sender := fs.String("sender", "", "only this sender's")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	n, err := openSenders(ctx, e, nf)
	if err != nil {
		return err
	}
	defer n.store.Close()
	ls, err := n.store.IssuedLabels(ctx, strings.ToLower(*sender), 200)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LABEL\tSENDER\tDOMAIN\tISSUED\tEXPIRES\tREVOKED")
	for _, l := range ls {
		rev := "-"
		if !l.RevokedAt.IsZero() {
			rev = l.RevokedAt.Format(time.RFC3339) + " " + l.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, l.Sender, l.Domain, l.Issued.Format(time.RFC3339), l.Expires.Format(time.RFC3339), rev)
	}
	return tw.Flush()
}

// labelTrust keeps a node's label verifier current: its own key with its
// own status list, and each active peer whose agreement says
// trust_labels, with the status list fetched from the peer and verified
// with the peer's key. A peer's labels stop counting as soon as its
// agreement no longer says so.
type labelTrust struct {
	verifier *label.Verifier
	own      label.Issuer
	cert     *lint.Certifier
	fed      federation.Store
	client   *http.Client
	log      *slog.Logger
}

func (t *labelTrust) refresh(ctx context.Context) {
	keep := map[string]bool{label.KeyID(t.own.Key): true}
	if sl, err := t.cert.StatusList(ctx); err == nil {
		b, _ := json.Marshal(sl)
		if st, err := label.ReadStatus(bytes.NewReader(b), t.own.Key); err == nil {
			t.own.Status = st
		}
	} else {
		t.log.Error("labels: own status list", "err", err)
	}
	t.verifier.SetIssuer(t.own)
	peers, err := t.fed.Peers(ctx)
	if err != nil {
		t.log.Error("labels: list peers", "err", err)
	}
	for _, p := range peers {
		if p.Status != federation.StatusActive || p.Agreement == nil || !p.Agreement.TrustLabels {
			continue
		}
		for _, k := range p.Keys {
			if k.Status == federation.KeyRevoked {
				continue
			}
			pub, err := label.PublicKey(k.Key)
			if err != nil {
				continue
			}
			iss := label.Issuer{Name: "peer " + p.Name, Key: pub}
			for _, old := range t.verifier.Issuers() {
				if label.KeyID(old.Key) == label.KeyID(pub) {
					// Kept while the peer is unreachable; once stale, the
					// verifier says its labels' revocation is unknown.
					iss.Status = old.Status
				}
			}
			switch st, err := t.fetch(ctx, p.URL, pub); {
			case err != nil:
				t.log.Warn("labels: a trusted peer's status list", "peer", p.Name, "err", err)
			case !st.Supersedes(iss.Status):
				t.log.Warn("labels: a trusted peer served a status list older than the one held; kept the newer", "peer", p.Name,
					"served", st.IssuedAt, "held", iss.Status.IssuedAt)
			default:
				iss.Status = st
			}
			t.verifier.SetIssuer(iss)
			keep[label.KeyID(pub)] = true
		}
	}
	t.verifier.Retain(keep)
}

func (t *labelTrust) fetch(ctx context.Context, base string, pub ed25519.PublicKey) (*label.Status, error) {
	if base == "" {
		return nil, errors.New("no URL")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(base, "/")+web.StatusPath, nil)
	if err != nil {
		return nil, err
	}
	res, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("%s", res.Status)
	}
	return label.ReadStatus(io.LimitReader(res.Body, 32<<20), pub)
}

// loop refreshes every minute until ctx ends.
func (t *labelTrust) loop(ctx context.Context) {
	tk := time.NewTicker(time.Minute)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			t.refresh(ctx)
		}
	}
}

func nodePublic(k *nodekey.Key) ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }
