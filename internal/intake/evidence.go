package intake

import (
	"archive/zip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/privacy"
)

// Manifest describes an evidence bundle. Every file's SHA-256 is listed
// here and in SHA256SUMS (so `sha256sum -c SHA256SUMS` checks it with no
// Accord at hand), and the custody log's hash chain can be replayed.
type Manifest struct {
	Format           string            `json:"format"` // "accord-evidence/1"
	ReportID         string            `json:"report_id"`
	ComplaintID      string            `json:"complaint_id"`
	ReceivedAt       time.Time         `json:"received_at"`
	Channel          Channel           `json:"channel"`
	Form             string            `json:"form"`
	Unverifiable     []string          `json:"unverifiable,omitempty"`
	MessageSHA256    string            `json:"message_sha256"`   // Of the original reported message.
	ComplaintSHA256  string            `json:"complaint_sha256"` // Of the complaint as received.
	OriginalIncluded bool              `json:"original_included"`
	CustodyHead      string            `json:"custody_head"` // Hash of the last custody entry at export.
	ExportedAt       time.Time         `json:"exported_at"`
	ExportedBy       string            `json:"exported_by"`
	Files            map[string]string `json:"files"` // name -> sha256
	// Removed names the files this bundle would carry that retention or
	// an erasure deleted before the export, each with the hash recorded
	// at receipt and the custody tombstone that says when and why: the
	// bundle then proves what existed without claiming to hold it.
	Removed []Removed `json:"removed,omitempty"`
	// A campaign bundle (format accord-campaign-evidence/1) names its
	// campaign and carries one report bundle per report, in reports/.
	CampaignID string   `json:"campaign_id,omitempty"`
	Reports    []string `json:"reports,omitempty"`
}

// Removed is a file of a bundle that was deleted before the export.
type Removed struct {
	File   string    `json:"file"`   // "message.eml", "message.redacted.eml" or "complaint.eml".
	SHA256 string    `json:"sha256"` // Of the deleted bytes, as recorded at receipt.
	At     time.Time `json:"at"`     // When they were deleted.
	// CustodySeq is the custody entry (in custody.json) recording the
	// deletion, whose detail names the same hash; 0 when the report's
	// own log has none (a complaint deleted before tombstones named it).
	CustodySeq int64  `json:"custody_seq,omitempty"`
	Reason     string `json:"reason"`
}

// tombstoneActions are the custody actions that record a deletion.
var tombstoneActions = map[string]bool{"purged-identity": true, "purged-evidence": true, "erased": true}

// removal describes the deletion of the bytes whose hash is sha, from
// the report's custody log: the last tombstone recording their deletion
// (a tombstone of an erasure that kept a held message names its hash
// too, as kept).
func removal(file, sha string, at time.Time, custody []CustodyEntry) Removed {
	rm := Removed{File: file, SHA256: sha, At: at.UTC(), Reason: "deleted before this export; the report's custody log holds no entry naming it"}
	records := func(d string) bool { return strings.Contains(d, "message (sha256 "+sha+", ") }
	if file == "complaint.eml" {
		records = func(d string) bool {
			return strings.Contains(d, "complaint ") && strings.Contains(d, " (sha256 "+sha+", ")
		}
	}
	for i := len(custody) - 1; i >= 0; i-- {
		e := custody[i]
		if tombstoneActions[e.Action] && records(e.Detail) {
			rm.CustodySeq, rm.At, rm.Reason = e.Seq, e.At.UTC(), e.Action+": "+e.Detail
			break
		}
	}
	return rm
}

// ExportOptions choose what a bundle carries.
type ExportOptions struct {
	Actor string
	// IncludeOriginal adds the reported message and the complaint byte for
	// byte. They usually name the reporter (as recipient and sender), so
	// the default bundle carries a redacted copy and the originals' hashes.
	IncludeOriginal bool
	// Attach adds files to a campaign bundle, listed and hashed in its
	// signed manifest (a case's history: case.json). Names must not be
	// the bundle's own.
	Attach map[string][]byte
}

// Export writes the evidence bundle of a report (a zip file) and records
// the export in the custody log first, so the bundle's log shows it.
func (d *Desk) Export(ctx context.Context, id string, w io.Writer, o ExportOptions) error {
	_, err := d.export(ctx, id, w, o)
	return err
}

// export writes a report's bundle and returns the people its redacted
// copy leaves out (the reporter and the message's recipients).
func (d *Desk) export(ctx context.Context, id string, w io.Writer, o ExportOptions) (privacy.People, error) {
	r, err := d.store.Report(ctx, id)
	if err != nil {
		return privacy.People{}, err
	}
	c, err := d.store.Complaint(ctx, r.ComplaintID)
	if err != nil {
		return privacy.People{}, fmt.Errorf("complaint of report %s: %w", id, err)
	}
	detail := "redacted copy"
	if o.IncludeOriginal {
		detail = "with the original message and complaint"
	}
	if _, err := d.store.AppendCustody(ctx, CustodyEntry{ReportID: id, At: d.now().UTC(), Actor: o.Actor, Action: "exported", Detail: detail}); err != nil {
		return privacy.People{}, fmt.Errorf("log export of report %s: %w", id, err)
	}
	custody, err := d.store.Custody(ctx, id)
	if err != nil {
		return privacy.People{}, err
	}
	var reporter string
	if r.ReporterID != "" {
		reporter, _ = d.store.ReporterAddress(ctx, r.ReporterID)
		reporter = ReporterMailbox(c.Raw, reporter) // With their display name.
	}
	reps, fwds := KeptApart(r, reporter)
	files := map[string][]byte{}
	var removed []Removed
	msgFile := "message.redacted.eml"
	if o.IncludeOriginal {
		msgFile = "message.eml"
	}
	// A file retention or erasure deleted is named as removed, never
	// carried empty under the hash of what it was.
	switch {
	case !r.PurgedAt.IsZero():
		removed = append(removed, removal(msgFile, r.SHA256, r.PurgedAt, custody))
	case o.IncludeOriginal:
		files["message.eml"] = r.Raw
	default:
		files["message.redacted.eml"] = privacy.OfApart(r.Raw, reps, fwds).Message(r.Raw)
	}
	if o.IncludeOriginal {
		if c.PurgedAt.IsZero() {
			files["complaint.eml"] = c.Raw
		} else {
			removed = append(removed, removal("complaint.eml", c.SHA256, c.PurgedAt, custody))
		}
	}
	vj, err := json.MarshalIndent(r.Verdict, "", "  ")
	if err != nil {
		return privacy.People{}, fmt.Errorf("encode verdict: %w", err)
	}
	people := privacy.OfApart(r.Raw, reps, fwds)
	if !o.IncludeOriginal {
		// Names too: a display name kept beside "[redacted]" names the
		// recipient as well as the address did.
		vj = people.Words(vj)
	}
	files["verdict.json"] = vj
	cj, _ := json.MarshalIndent(custody, "", "  ")
	files["custody.json"] = cj
	man := Manifest{Format: ReportFormat, ReportID: r.ID, ComplaintID: r.ComplaintID, ReceivedAt: r.ReceivedAt,
		Channel: r.Channel, Form: r.Form, Unverifiable: r.Unverifiable, MessageSHA256: r.SHA256, ComplaintSHA256: c.SHA256,
		OriginalIncluded: o.IncludeOriginal, ExportedAt: d.now().UTC(), ExportedBy: o.Actor, Files: map[string]string{}, Removed: removed}
	if n := len(custody); n > 0 {
		man.CustodyHead = custody[n-1].Hash
	}
	names := make([]string, 0, len(files))
	for n, b := range files {
		s := sha256.Sum256(b)
		man.Files[n] = hex.EncodeToString(s[:])
		names = append(names, n)
	}
	return people, d.writeBundle(w, man, files, names)
}

// writeBundle adds the manifest (listing every file's hash), its
// signature and SHA256SUMS to files, and writes the zip.
func (d *Desk) writeBundle(w io.Writer, man Manifest, files map[string][]byte, names []string) error {
	mj, _ := json.MarshalIndent(man, "", "  ")
	files["manifest.json"] = mj
	names = append(names, "manifest.json")
	if d.signer != nil {
		// The manifest lists every file's hash, so its signature covers
		// the whole bundle: a reader who trusts the node's public key
		// knows the node issued exactly these bytes.
		files["manifest.sig"] = []byte(base64.StdEncoding.EncodeToString(ed25519.Sign(d.signer, mj)) + "\n")
		files["node.pub"] = []byte(base64.StdEncoding.EncodeToString(d.signer.Public().(ed25519.PublicKey)) + "\n")
		names = append(names, "manifest.sig", "node.pub")
	}
	sort.Strings(names)
	var sums strings.Builder
	for _, n := range names {
		s := sha256.Sum256(files[n])
		fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(s[:]), n)
	}
	files["SHA256SUMS"] = []byte(sums.String())
	names = append(names, "SHA256SUMS")
	zw := zip.NewWriter(w)
	for _, n := range names {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Deflate, Modified: man.ExportedAt})
		if err != nil {
			return err
		}
		if _, err := fw.Write(files[n]); err != nil {
			return err
		}
	}
	return zw.Close()
}

// Redact returns the message with its recipients' and the reporter's
// addresses, local parts and names redacted in every form they take (see
// privacy.People.Message).
func Redact(raw []byte, reporter string) []byte {
	return privacy.Of(raw, reporter).Message(raw)
}

// Bounds of a bundle read for verification: every file is held in memory.
const (
	maxBundleEntries = 100000
	maxBundleFile    = 256 << 20
	maxBundleTotal   = 1 << 30
)

// bundleMeta are the entries a bundle has besides the files its manifest
// lists: the manifest, its signature, the signing key and SHA256SUMS.
var bundleMeta = map[string]bool{"manifest.json": true, "manifest.sig": true, "node.pub": true, "SHA256SUMS": true}

// VerifyResult is what an offline verification found.
type VerifyResult struct {
	Manifest Manifest
	// NodeKey is the base64 Ed25519 public key that signed the manifest,
	// "" for an unsigned bundle. Compare it with the key the node
	// publishes (accord node key) before relying on the signature.
	NodeKey  string
	Problems []string
}

// OK reports a bundle with no problem.
func (v VerifyResult) OK() bool { return len(v.Problems) == 0 }

// VerifyBundle checks an evidence bundle with nothing but the bundle: every
// file against the manifest and SHA256SUMS, the custody chain, and that the
// original message (when included) is the one the report recorded.
func VerifyBundle(r io.ReaderAt, size int64) (VerifyResult, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return VerifyResult{}, fmt.Errorf("open bundle: %w", err)
	}
	if len(zr.File) > maxBundleEntries {
		return VerifyResult{}, fmt.Errorf("the bundle has %d entries, more than the %d a bundle can hold", len(zr.File), maxBundleEntries)
	}
	files := map[string][]byte{}
	var res VerifyResult
	var total int64
	for _, f := range zr.File {
		if f.UncompressedSize64 > maxBundleFile {
			return VerifyResult{}, fmt.Errorf("bundle file %s is too large", f.Name)
		}
		if _, dup := files[f.Name]; dup {
			// Readers disagree on which of two same-named entries is the
			// file (unzip shows the first, a map keeps the last): a forged
			// copy could stand beside the genuine one.
			res.Problems = append(res.Problems, "the bundle holds "+f.Name+" twice")
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return VerifyResult{}, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxBundleFile+1))
		rc.Close()
		if err != nil {
			return VerifyResult{}, fmt.Errorf("read %s: %w", f.Name, err)
		}
		if int64(len(b)) > maxBundleFile {
			return VerifyResult{}, fmt.Errorf("bundle file %s is too large", f.Name)
		}
		if total += int64(len(b)); total > maxBundleTotal {
			return VerifyResult{}, fmt.Errorf("the bundle's files add up to more than %d MiB", maxBundleTotal>>20)
		}
		files[f.Name] = b
	}
	if err := json.Unmarshal(files["manifest.json"], &res.Manifest); err != nil {
		return res, fmt.Errorf("bundle has no readable manifest: %w", err)
	}
	campaignBundle := res.Manifest.Format == CampaignFormat
	if res.Manifest.Format != ReportFormat && !campaignBundle {
		res.Problems = append(res.Problems, fmt.Sprintf("unknown bundle format %q", res.Manifest.Format))
	}
	if len(res.Manifest.Files) == 0 {
		res.Problems = append(res.Problems, "the manifest lists no files")
	}
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	// Only what the signed manifest lists is evidence: any other entry
	// (a forged message.eml, an analyst's note) could pass for part of
	// what the node issued.
	for _, f := range zr.File {
		if _, listed := res.Manifest.Files[f.Name]; !listed && !bundleMeta[f.Name] {
			res.Problems = append(res.Problems, "the bundle holds "+f.Name+", which the manifest does not list")
		}
	}
	for name, want := range res.Manifest.Files {
		b, ok := files[name]
		switch {
		case !ok:
			res.Problems = append(res.Problems, "missing file "+name)
		case sum(b) != want:
			res.Problems = append(res.Problems, "file "+name+" does not match its hash")
		}
	}
	// SHA256SUMS is for checking with no Accord at hand (sha256sum -c):
	// it must list exactly the manifest's files and the manifest itself.
	summed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(files["SHA256SUMS"])), "\n") {
		h, name, ok := strings.Cut(line, "  ")
		if !ok {
			res.Problems = append(res.Problems, "bad SHA256SUMS line "+line)
			continue
		}
		if _, listed := res.Manifest.Files[name]; !listed && !bundleMeta[name] || name == "SHA256SUMS" {
			res.Problems = append(res.Problems, "SHA256SUMS lists "+name+", which the manifest does not")
		}
		if summed[name] {
			res.Problems = append(res.Problems, "SHA256SUMS lists "+name+" twice")
		}
		summed[name] = true
		if b, ok := files[name]; !ok || sum(b) != h {
			res.Problems = append(res.Problems, "SHA256SUMS: "+name+" does not match")
		}
	}
	for name := range res.Manifest.Files {
		if !summed[name] {
			res.Problems = append(res.Problems, "SHA256SUMS does not list "+name)
		}
	}
	removed := map[string]bool{}
	for _, rm := range res.Manifest.Removed {
		removed[rm.File] = true
		if _, listed := res.Manifest.Files[rm.File]; listed {
			res.Problems = append(res.Problems, rm.File+" is listed both as carried and as removed")
		}
		want := res.Manifest.MessageSHA256
		if rm.File == "complaint.eml" {
			want = res.Manifest.ComplaintSHA256
		}
		if rm.SHA256 != want {
			res.Problems = append(res.Problems, "the removed "+rm.File+" is not the one recorded at receipt")
		}
	}
	if res.Manifest.OriginalIncluded && !campaignBundle {
		if !removed["message.eml"] && sum(files["message.eml"]) != res.Manifest.MessageSHA256 {
			res.Problems = append(res.Problems, "message.eml is not the reported message recorded at receipt")
		}
		if !removed["complaint.eml"] && sum(files["complaint.eml"]) != res.Manifest.ComplaintSHA256 {
			res.Problems = append(res.Problems, "complaint.eml is not the complaint recorded at receipt")
		}
	}
	if sig, ok := files["manifest.sig"]; ok {
		res.NodeKey = strings.TrimSpace(string(files["node.pub"]))
		pub, err1 := base64.StdEncoding.DecodeString(res.NodeKey)
		sg, err2 := base64.StdEncoding.DecodeString(strings.TrimSpace(string(sig)))
		if err1 != nil || err2 != nil || len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, files["manifest.json"], sg) {
			res.Problems = append(res.Problems, "manifest.sig is not a valid signature of manifest.json by node.pub")
		}
	}
	if campaignBundle {
		res.Problems = append(res.Problems, verifyInner(files, res)...)
		return res, nil
	}
	var custody []CustodyEntry
	if err := json.Unmarshal(files["custody.json"], &custody); err != nil {
		res.Problems = append(res.Problems, "custody.json is unreadable")
	} else {
		res.Problems = append(res.Problems, VerifyChain(custody)...)
		if n := len(custody); n == 0 || custody[n-1].Hash != res.Manifest.CustodyHead {
			res.Problems = append(res.Problems, "the custody log does not end at the manifest's head")
		}
		// A removal the manifest ties to a tombstone must be that
		// tombstone: the deletion of these very bytes.
		for _, rm := range res.Manifest.Removed {
			if rm.CustodySeq == 0 {
				continue
			}
			found := false
			for _, e := range custody {
				if e.Seq == rm.CustodySeq {
					found = tombstoneActions[e.Action] && strings.Contains(e.Detail, rm.SHA256)
					break
				}
			}
			if !found {
				res.Problems = append(res.Problems, fmt.Sprintf("the removal of %s names custody entry %d, which does not record it", rm.File, rm.CustodySeq))
			}
		}
	}
	return res, nil
}

// ChainHash is the hash of a custody entry given the previous one's: the
// store computes it on append, verifiers recompute it.
func ChainHash(prev string, e CustodyEntry) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%d\n", prev, e.Seq)
	h.Write(ChainTail(e))
	return hex.EncodeToString(h.Sum(nil))
}

// ChainTail is what ChainHash hashes after the previous hash and the
// sequence number: the entry's own fields. A store that chains entries
// inside the database (where the head is known) hashes
// prev + "\n" + seq + "\n" followed by these bytes.
func ChainTail(e CustodyEntry) []byte {
	return fmt.Appendf(nil, "%s\n%s\n%s\n%s\n%s\n", e.ReportID, e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Detail)
}

// VerifyChain checks the hash chain of custody entries of one report. The
// node's log is one chain over all reports; a report's entries link through
// PrevHash to entries of other reports, so each entry is checked against
// its own PrevHash.
func VerifyChain(es []CustodyEntry) []string {
	var out []string
	for i, e := range es {
		if ChainHash(e.PrevHash, e) != e.Hash {
			out = append(out, fmt.Sprintf("custody entry %d (%s) does not match its hash", e.Seq, e.Action))
		}
		if i > 0 && e.Seq <= es[i-1].Seq {
			out = append(out, fmt.Sprintf("custody entry %d is out of order", e.Seq))
		}
	}
	return out
}
