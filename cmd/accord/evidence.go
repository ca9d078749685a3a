package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/nodekey"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
)

// exitNotPinned is the status of `evidence verify` for a bundle that is
// intact but whose signer nobody vouched for (no --key): distinct from 0
// (verified against the pinned key) and 1 (does not verify).
const exitNotPinned = 3

func cmdEvidence(ctx context.Context, e *env, args []string) error {
	usage := func() error {
		fmt.Fprintln(e.stderr, "usage: accord evidence export [--config FILE] [--data DIR] [--original] [-o FILE] REPORT|CAMPAIGN")
		fmt.Fprintln(e.stderr, "       accord evidence verify [--key NODEKEY|FINGERPRINT|FILE] BUNDLE.zip")
		fmt.Fprintln(e.stderr, "       accord evidence chain [--config FILE] [--data DIR]   (replay the desk's whole custody log)")
		fmt.Fprintln(e.stderr, "export writes a signed bundle of a report, or of every report of a campaign (c-…);")
		fmt.Fprintln(e.stderr, "verify checks one offline; --key pins the issuing node's public key (accord node key).")
		fmt.Fprintln(e.stderr, "verify exits 0 when the bundle is intact and signed by the pinned key, 1 when it does not verify,")
		fmt.Fprintf(e.stderr, "and %d when it is intact but nothing pins who signed it.\n", exitNotPinned)
		return errUsage
	}
	if len(args) == 0 {
		return usage()
	}
	switch args[0] {
	case "export":
		return evidenceExport(ctx, e, args[1:], usage)
	case "verify":
		return evidenceVerify(e, args[1:], usage)
	case "chain":
		return evidenceChain(ctx, e, args[1:], usage)
	}
	return usage()
}

func evidenceExport(ctx context.Context, e *env, args []string, usage func() error) error {
	fset, nf := nodeFlagSet(e, "evidence export")
	out := fset.String("o", "", "output file (default evidence-ID.zip)")
	original := fset.Bool("original", false, "include the original message and complaint (they name the reporter); default: a redacted copy, or the config's privacy.export_original")
	pos, err := parseInterleaved(fset, args)
	if err != nil || len(pos) != 1 {
		return usage()
	}
	id := pos[0]
	c, err := nf.loadNode()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	key, err := nodekey.LoadOrCreate(c.Data)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	desk, err := intake.New(st, nil, intake.Options{Secret: key.Derive("reporter-pseudonyms"), Signer: key.Private, Logger: e.log})
	if err != nil {
		return err
	}
	defer desk.Close()
	if *out == "" {
		*out = "evidence-" + id + ".zip"
	}
	// Written aside and renamed: a failed export leaves no half bundle.
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".evidence-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	o := intake.ExportOptions{Actor: cliActor(), IncludeOriginal: *original || c.Privacy.ExportOriginal}
	what := "report"
	if _, err := st.Report(ctx, id); err == nil {
		err = desk.Export(ctx, id, tmp, o)
		if err != nil {
			tmp.Close()
			return err
		}
	} else if _, cerr := st.Campaign(ctx, id); cerr == nil || errors.As(cerr, new(*intake.MergedError)) {
		// (a campaign merged into another exports the other, whole)
		what = "campaign"
		if err := desk.ExportCampaign(ctx, id, tmp, o); err != nil {
			tmp.Close()
			return err
		}
	} else {
		tmp.Close()
		if errors.Is(err, intake.ErrNotFound) {
			return &exitError{code: 1, err: fmt.Errorf("no report or campaign %s", id)}
		}
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	tmp.Close()
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return err
	}
	st.AppendAudit(ctx, access.Event{At: time.Now().UTC(), Actor: cliActor(), Action: access.AuditExport, Target: what + ":" + id, Detail: "to " + *out})
	fmt.Fprintf(e.stdout, "%s %s exported to %s, signed by node key %s (fingerprint %s)\n", what, id, *out, key.Public(), key.Fingerprint())
	return nil
}

func evidenceVerify(e *env, args []string, usage func() error) error {
	fset := flag.NewFlagSet("evidence verify", flag.ContinueOnError)
	fset.SetOutput(e.stderr)
	pin := fset.String("key", "", "the node's public key the bundle must be signed with (accord node key), its fingerprint, or a file holding either")
	pos, err := parseInterleaved(fset, args)
	if err != nil || len(pos) != 1 {
		return usage()
	}
	pinned, err := pinnedKey(*pin)
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	res, err := intake.VerifyBundle(f, fi.Size())
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	m := res.Manifest
	if m.Format == intake.CampaignFormat {
		fmt.Fprintf(e.stdout, "campaign %s: %d report bundles, exported %s by %s\n", m.CampaignID, len(m.Reports), m.ExportedAt.Format(time.RFC3339), m.ExportedBy)
	} else {
		fmt.Fprintf(e.stdout, "report %s, received %s via %s; message sha256 %s; %d files; custody head %s\n",
			m.ReportID, m.ReceivedAt.Format(time.RFC3339), m.Channel, m.MessageSHA256, len(m.Files), m.CustodyHead)
		for _, rm := range m.Removed {
			fmt.Fprintf(e.stdout, "removed before export: %s (sha256 %s), deleted %s: %s\n", rm.File, rm.SHA256, rm.At.Format(time.RFC3339), rm.Reason)
		}
	}
	switch {
	case res.NodeKey == "":
		if pinned != "" {
			res.Problems = append(res.Problems, "the bundle is not signed, but --key asks for a signature")
		}
	case pinned != "" && !pinMatches(pinned, res.NodeKey):
		fp, _ := nodekey.Fingerprint(res.NodeKey)
		res.Problems = append(res.Problems, "signed by node key "+res.NodeKey+" (fingerprint "+fp+"), not by the pinned key")
	}
	if !res.OK() {
		for _, p := range res.Problems {
			fmt.Fprintln(e.stdout, "PROBLEM:", p)
		}
		return &exitError{code: 1, err: fmt.Errorf("the bundle does not verify (%d problems)", len(res.Problems))}
	}
	if res.NodeKey == "" {
		fmt.Fprintln(e.stdout, "NOT VERIFIED: the bundle is unsigned. Its files match its hashes, but anyone could have made it.")
		return &exitError{code: exitNotPinned, err: errors.New("unsigned bundle: its origin cannot be checked")}
	}
	fp, _ := nodekey.Fingerprint(res.NodeKey)
	if pinned == "" {
		fmt.Fprintf(e.stdout, "NOT PINNED: the files match and the signature is valid, but it was made by the key in the bundle itself:\n")
		fmt.Fprintf(e.stdout, "  key         %s\n  fingerprint %s\n", res.NodeKey, fp)
		fmt.Fprintln(e.stdout, "Anyone can re-sign an altered bundle with their own key. Compare this fingerprint with the one the issuing node")
		fmt.Fprintln(e.stdout, "publishes (its /node page, GET /api/v1/node, or `accord node fingerprint` there), then verify with --key.")
		return &exitError{code: exitNotPinned, err: errors.New("signer not pinned: pass --key with the issuing node's public key")}
	}
	fmt.Fprintf(e.stdout, "signed by node key %s (fingerprint %s), the pinned key\n", res.NodeKey, fp)
	fmt.Fprintln(e.stdout, "OK: every file matches its hash, the custody log's chain is intact, and the bundle is signed by the pinned key")
	return nil
}

// evidenceChain replays the desk's whole custody log.
func evidenceChain(ctx context.Context, e *env, args []string, usage func() error) error {
	fset, nf := nodeFlagSet(e, "evidence chain")
	if err := fset.Parse(args); err != nil || fset.NArg() != 0 {
		return usage()
	}
	return withStore(ctx, nf, func(st *sqlstore.Store) error {
		n, problems, err := st.VerifyCustodyLog(ctx)
		if err != nil {
			return err
		}
		for _, p := range problems {
			fmt.Fprintln(e.stdout, "PROBLEM:", p)
		}
		if len(problems) > 0 {
			return &exitError{code: 1, err: fmt.Errorf("the custody log does not verify (%d problems in %d entries)", len(problems), n)}
		}
		fmt.Fprintf(e.stdout, "OK: %d custody entries form one unbroken chain, from the first to the head\n", n)
		return nil
	})
}
