package intake

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/privacy"
)

// Bundle formats.
const (
	ReportFormat   = "accord-evidence/1"          // One report.
	CampaignFormat = "accord-campaign-evidence/1" // A campaign: one report bundle per report, signed as a set.
)

// maxCampaignExport bounds the reports in one campaign bundle.
const maxCampaignExport = 100000

// CampaignReports lists every report of a campaign, newest first.
func (d *Desk) CampaignReports(ctx context.Context, id string) ([]ReportSummary, error) {
	seen := map[string]bool{}
	var out []ReportSummary
	f := ReportFilter{CampaignID: id, Limit: 1000}
	for len(out) < maxCampaignExport {
		page, err := d.store.Reports(ctx, f)
		if err != nil {
			return nil, err
		}
		added := 0
		for _, r := range page {
			if !seen[r.ID] {
				seen[r.ID] = true
				out = append(out, r)
				added++
			}
		}
		if len(page) < f.Limit || added == 0 {
			break
		}
		// Reports of one complaint share their time: page on "up to and
		// including" the last time, and drop the repeats.
		f.Before = page[len(page)-1].ReceivedAt.Add(time.Nanosecond)
	}
	return out, nil
}

// ExportCampaign writes the evidence of a whole campaign as one bundle: a
// report bundle per report (each signed, each with its custody log, each
// export recorded in it), campaign.json, and a manifest over all of them,
// signed by the node.
func (d *Desk) ExportCampaign(ctx context.Context, id string, w io.Writer, o ExportOptions) error {
	c, err := d.store.Campaign(ctx, id)
	var merged *MergedError
	if errors.As(err, &merged) {
		// A campaign merged into another: its reports are the other's,
		// exported with every campaign merged into it.
		id = merged.Into
		c, err = d.store.Campaign(ctx, id)
	}
	if err != nil {
		return err
	}
	reps, err := d.CampaignReports(ctx, id)
	if err != nil {
		return fmt.Errorf("reports of campaign %s: %w", id, err)
	}
	if len(reps) == 0 {
		return fmt.Errorf("campaign %s has no report: %w", id, ErrNotFound)
	}
	files := map[string][]byte{}
	var names []string
	man := Manifest{Format: CampaignFormat, CampaignID: id, ExportedAt: d.now().UTC(), ExportedBy: o.Actor, Files: map[string]string{},
		OriginalIncluded: o.IncludeOriginal}
	var people []privacy.People
	for _, r := range reps {
		var b bytes.Buffer
		p, err := d.export(ctx, r.ID, &b, o)
		if err != nil {
			return fmt.Errorf("export report %s: %w", r.ID, err)
		}
		people = append(people, p)
		n := "reports/" + r.ID + ".zip"
		files[n] = b.Bytes()
		names = append(names, n)
		man.Reports = append(man.Reports, r.ID)
	}
	sort.Strings(man.Reports)
	cj, _ := json.MarshalIndent(c, "", "  ")
	if !o.IncludeOriginal && len(people) > 0 {
		// The campaign's subjects and senders' display names are the
		// spam's, which often name the recipient ("Jane, your parcel").
		cj = people[0].Union(people[1:]...).Words(cj)
	}
	files["campaign.json"] = cj
	names = append(names, "campaign.json")
	extra := make([]string, 0, len(o.Attach))
	for n := range o.Attach {
		extra = append(extra, n)
	}
	sort.Strings(extra)
	for _, n := range extra {
		if _, taken := files[n]; taken || n == "manifest.json" || n == "manifest.sig" || n == "node.pub" || n == "SHA256SUMS" || strings.Contains(n, "..") {
			return fmt.Errorf("campaign %s: cannot attach %q", id, n)
		}
		files[n] = o.Attach[n]
		names = append(names, n)
	}
	for _, n := range names {
		man.Files[n] = sha(files[n])
	}
	return d.writeBundle(w, man, files, names)
}

// verifyInner checks each report bundle of a campaign bundle: it is listed,
// it verifies on its own, and it was signed by the same key as the whole.
func verifyInner(files map[string][]byte, outer VerifyResult) []string {
	var out []string
	if len(outer.Manifest.Reports) == 0 {
		out = append(out, "the campaign bundle lists no report")
	}
	for _, id := range outer.Manifest.Reports {
		n := "reports/" + id + ".zip"
		b, ok := files[n]
		if !ok {
			out = append(out, "missing report bundle "+n)
			continue
		}
		if _, listed := outer.Manifest.Files[n]; !listed {
			out = append(out, "report bundle "+n+" is not in the manifest")
		}
		in, err := VerifyBundle(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			out = append(out, fmt.Sprintf("report bundle %s: %v", id, err))
			continue
		}
		if in.Manifest.Format != ReportFormat || in.Manifest.ReportID != id {
			out = append(out, fmt.Sprintf("report bundle %s is not the bundle of report %s", n, id))
		}
		for _, p := range in.Problems {
			out = append(out, "report "+id+": "+p)
		}
		if in.NodeKey != outer.NodeKey {
			out = append(out, "report "+id+" was signed by another key than the campaign bundle")
		}
	}
	return out
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
