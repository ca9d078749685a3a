package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/lint"
	"github.com/accord-antispam/accord/internal/mail"
)

// cmdLint is the pre-send check. Exit 0: no breach; 1: breaches; 2: usage.
func cmdLint(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("lint", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var ef engineFlags
	ef.register(fs)
	fs.Lookup("resolver").DefValue = "live"
	fs.Set("resolver", "live")
	fs.Lookup("jurisdiction").DefValue = ""
	fs.Set("jurisdiction", "")
	sender := fs.String("sender", "", "a sender registered at the node in --data: its domains, complaint rate and consent records")
	node := fs.String("node", "", "or ask the node at this URL, with the sender's token in ACCORD_TOKEN")
	recipient := fs.String("recipient", "", "is consent on record for this recipient? (needs --sender or --node)")
	list := fs.String("list", "", "the list the campaign goes to (consent is per list; default: any)")
	mailFrom := fs.String("mail-from", "", "the envelope sender (default: the Return-Path field, else From)")
	ip := fs.String("ip", "", "the address the campaign is sent from: SPF is then checked for it")
	transactional := fs.Bool("transactional", false, "the message is not marketing (order confirmations…): the marketing rules do not apply")
	noBulk := fs.Bool("no-bulk", false, "skip the large mailbox providers' bulk-sender requirements")
	asJSON := fs.Bool("json", false, "print one JSON report per message")
	verbose := fs.Bool("v", false, "list the checks that passed too")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: accord lint [flags] MESSAGE.eml ...")
		fmt.Fprintln(e.stderr, "Check a campaign before sending. Exit 0: no breach; 1: breaches; 2: usage.")
		fs.PrintDefaults()
	}
	files, err := parseInterleaved(fs, args)
	if err != nil || len(files) == 0 || *recipient != "" && *sender == "" && *node == "" || *sender != "" && *node != "" {
		if err == nil {
			fs.Usage()
		}
		return errUsage
	}
	an, err := ef.analyzer(ctx, e)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	var juris []string
	if ef.jurisdictions != "" {
		juris = an.Jurisdictions
	} else {
		an.Jurisdictions = nil
	}
	var facts lint.SenderFacts
	switch {
	case *sender != "":
		nf := nodeFlags{data: ef.model.data}
		n, err := openSenders(ctx, e, &nf)
		if err != nil {
			return err
		}
		defer n.store.Close()
		if _, err := n.store.Sender(ctx, strings.ToLower(*sender)); errors.Is(err, consent.ErrNotFound) {
			return &exitError{code: 2, err: fmt.Errorf("--sender: %s is not registered at the node in %s", *sender, ef.model.data)}
		}
		facts = lint.NodeFacts{Service: n.svc, ID: strings.ToLower(*sender)}
	case *node != "":
		tok := os.Getenv("ACCORD_TOKEN")
		if tok == "" {
			return &exitError{code: 2, err: errors.New("--node needs the sender's API token in ACCORD_TOKEN")}
		}
		facts = &remoteFacts{base: strings.TrimRight(*node, "/"), token: tok, client: &http.Client{Timeout: 30 * time.Second}}
	}
	l := &lint.Linter{Analyzer: an}
	breaches := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		r, err := l.Lint(ctx, mail.ParseBytes(raw, mail.DefaultLimits()), lint.Options{Source: f, Jurisdictions: juris, Sender: facts,
			Recipient: *recipient, List: *list, Transactional: *transactional, Bulk: !*noBulk, MailFrom: *mailFrom, IP: *ip})
		if err != nil {
			return err
		}
		breaches += r.Breaches
		if *asJSON {
			b, _ := json.MarshalIndent(r, "", "  ")
			fmt.Fprintf(e.stdout, "%s\n", b)
		} else {
			printLint(e.stdout, r, *verbose)
		}
	}
	if breaches > 0 {
		return &exitError{code: 1}
	}
	return nil
}

var statusWord = map[lint.Status]string{lint.Breach: "BREACH", lint.Warning: "WARNING", lint.NeedsContext: "CHECK", lint.OK: "ok", lint.NotApplies: "n/a"}

func printLint(w io.Writer, r *lint.Report, verbose bool) {
	fmt.Fprintf(w, "%s: %q from %s", r.Source, r.Subject, orDash(r.From))
	if len(r.DKIMDomains) > 0 {
		fmt.Fprintf(w, ", DKIM %s", strings.Join(r.DKIMDomains, ", "))
	}
	fmt.Fprintf(w, "; rules of %s; DNS %s", strings.Join(r.Jurisdictions, ", "), r.DNS)
	if r.Sender != "" {
		fmt.Fprintf(w, "; sender %s", r.Sender)
	}
	if r.Recipient != "" {
		fmt.Fprintf(w, "; recipient %s", r.Recipient)
	}
	fmt.Fprintln(w)
	ok := 0
	for _, order := range []lint.Status{lint.Breach, lint.Warning, lint.NeedsContext, lint.OK, lint.NotApplies} {
		for _, f := range r.Findings {
			if f.Status != order {
				continue
			}
			if (f.Status == lint.OK || f.Status == lint.NotApplies) && !verbose {
				ok++
				continue
			}
			area := string(f.Area)
			if f.Jurisdiction != "" {
				area += "/" + f.Jurisdiction
			}
			fmt.Fprintf(w, "  %-7s %-18s %s\n", statusWord[f.Status], area, f.Title)
			fmt.Fprintf(w, "          %s\n", f.Detail)
			if len(f.Citations) > 0 && f.Status != lint.OK {
				fmt.Fprintf(w, "          cites: %s\n", strings.Join(f.Citations, "; "))
			}
			if f.Fix != "" && f.Status != lint.OK {
				fmt.Fprintf(w, "          fix: %s\n", f.Fix)
			}
		}
	}
	if ok > 0 {
		fmt.Fprintf(w, "  %d checks passed (-v lists them)\n", ok)
	}
	verdict := "ready to send"
	if !r.Clean {
		verdict = "NOT ready to send"
	}
	fmt.Fprintf(w, "result: %d breaches, %d warnings, %d to check by hand: %s\n", r.Breaches, r.Warnings, r.NeedsContext, verdict)
}

// remoteFacts asks the node's API, with the sender's token.
type remoteFacts struct {
	base, token string
	client      *http.Client
}

func (r *remoteFacts) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", r.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	res, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("the node: %w", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if res.StatusCode != 200 {
		return fmt.Errorf("the node answered %s: %s", res.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, v)
}

func (r *remoteFacts) Sender(ctx context.Context) (lint.SenderInfo, error) {
	var s struct {
		ID            string   `json:"id"`
		Domains       []string `json:"domains"`
		Jurisdictions []string `json:"jurisdictions"`
		PostalAddress string   `json:"postal_address"`
		Status        string   `json:"status"`
		Standing      struct {
			Good bool     `json:"good"`
			Why  []string `json:"why"`
			Sent int64    `json:"sent_30d"`
			Rate float64  `json:"complaint_rate_30d"`
			// Absent from a node before the rule for small senders:
			// judged by the rate then.
			JudgedBy     string `json:"judged_by"`
			Complainants int64  `json:"complainants_30d"`
		} `json:"standing"`
	}
	if err := r.get(ctx, "/api/v1/sender", &s); err != nil {
		return lint.SenderInfo{}, err
	}
	return lint.SenderInfo{ID: s.ID, Domains: s.Domains, Jurisdictions: s.Jurisdictions, PostalAddress: s.PostalAddress, Status: s.Status,
		ComplaintRate: s.Standing.Rate, Sent: s.Standing.Sent, JudgedBy: s.Standing.JudgedBy, Complainants: s.Standing.Complainants,
		Good: s.Standing.Good, Why: s.Standing.Why}, nil
}

func (r *remoteFacts) Recipient(ctx context.Context, address, list string) (lint.RecipientInfo, error) {
	var x struct {
		Records []struct {
			ID          string            `json:"id"`
			List        string            `json:"list"`
			Basis       string            `json:"basis"`
			Status      string            `json:"status"`
			Confirmed   bool              `json:"confirmed"`
			Created     time.Time         `json:"created"`
			ConfirmedAt *time.Time        `json:"confirmed_at"`
			Capture     consent.Capture   `json:"capture"`
			Customer    *consent.Customer `json:"customer"`
		} `json:"records"`
		Suppressions []struct {
			List        string     `json:"list"`
			Action      string     `json:"action"`
			Reason      string     `json:"reason"`
			RequestedAt time.Time  `json:"requested_at"`
			LiftedAt    *time.Time `json:"lifted_at"`
		} `json:"suppressions"`
	}
	if err := r.get(ctx, "/api/v1/consents?recipient="+url.QueryEscape(address), &x); err != nil {
		return lint.RecipientInfo{}, err
	}
	var recs []consent.Record
	for _, y := range x.Records {
		rec := consent.Record{ID: y.ID, List: y.List, Basis: y.Basis, Status: y.Status, Confirmed: y.Confirmed, Created: y.Created,
			Capture: y.Capture, Customer: y.Customer}
		if y.ConfirmedAt != nil {
			rec.ConfirmedAt = *y.ConfirmedAt
		}
		recs = append(recs, rec)
	}
	var sups []consent.Suppression
	for _, y := range x.Suppressions {
		x := consent.Suppression{List: y.List, Reason: y.Reason, RequestedAt: y.RequestedAt, Lifted: y.Action == "lift"}
		if y.LiftedAt != nil {
			x.LiftedAt = *y.LiftedAt
		}
		sups = append(sups, x)
	}
	return lint.Summarize(recs, sups, list), nil
}
