package storetest

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/cases"
	"github.com/accord-antispam/accord/internal/intake"
)

// twoAttached is a reporter's mail carrying two spam messages: one
// complaint, two reports.
func twoAttached(from string, a, b []byte) []byte {
	m := []byte("From: " + from + "\r\nTo: abuse@node.example\r\nSubject: Fwd: two spams\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nboth of these\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n")
	m = append(m, a...)
	m = append(m, "\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n"...)
	m = append(m, b...)
	return append(m, "\r\n--b--\r\n"...)
}

// bundleFiles exports a report's bundle with the originals, verifies it
// and returns its files.
func bundleFiles(t *testing.T, d *intake.Desk, id string) map[string][]byte {
	t.Helper()
	var buf bytes.Buffer
	if err := d.Export(context.Background(), id, &buf, intake.ExportOptions{Actor: "user:ana", IncludeOriginal: true}); err != nil {
		t.Fatalf("export %s: %v", id, err)
	}
	v, err := intake.VerifyBundle(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil || !v.OK() {
		t.Fatalf("bundle of %s does not verify: %+v %v", id, v, err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	return files
}

// removedFrom checks that the original bundle of a report verifies,
// carries none of the files named and lists each as removed, tied to the
// custody tombstone of its deletion, and carries the others.
func removedFrom(t *testing.T, d *intake.Desk, id string, gone ...string) {
	t.Helper()
	files := bundleFiles(t, d, id)
	var man intake.Manifest
	if err := json.Unmarshal(files["manifest.json"], &man); err != nil {
		t.Fatal(err)
	}
	rm := map[string]intake.Removed{}
	for _, r := range man.Removed {
		rm[r.File] = r
	}
	for _, f := range []string{"message.eml", "complaint.eml"} {
		_, carried := files[f]
		want := slices.Contains(gone, f)
		r, listed := rm[f]
		if carried == want || listed != want {
			t.Errorf("bundle of %s: %s carried %v, listed removed %v; want removed %v", id, f, carried, listed, want)
		}
		if want && (r.CustodySeq == 0 || r.At.IsZero() || r.Reason == "") {
			t.Errorf("bundle of %s: the removal of %s names no tombstone: %+v", id, f, r)
		}
	}
}

// messagesOnce: whichever way a message is kept (a complaint that is the
// reported message itself keeps its bytes once, as its report's), every
// reader gets it byte for byte — the report, the complaint, the evidence
// bundle (verified), the reporter's own export, the federation's shared
// reports with the reporter's name from the complaint — and erasure and
// retention take what they must and keep what they must.
func messagesOnce(t *testing.T, s Store) {
	ctx := context.Background()
	d, clk := newDesk(t, s)
	submit := func(sub intake.Submission, n int) []intake.Receipted {
		t.Helper()
		rec, err := d.Submit(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Reports) != n {
			t.Fatalf("%d reports, want %d", len(rec.Reports), n)
		}
		return rec.Reports
	}
	check := func(what, id string, msg, complaint []byte) {
		t.Helper()
		r, err := s.Report(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !bytes.Equal(r.Raw, msg) {
			t.Errorf("%s: the report's message differs (%d bytes, want %d)", what, len(r.Raw), len(msg))
		}
		c, err := s.Complaint(ctx, r.ComplaintID)
		if err != nil || !bytes.Equal(c.Raw, complaint) {
			t.Errorf("%s: the complaint differs (%d bytes, want %d): %v", what, len(c.Raw), len(complaint), err)
		}
		if h, err := s.ReportHead(ctx, id, 40); err != nil || !bytes.Equal(h.Raw, msg[:min(40, len(msg))]) {
			t.Errorf("%s: the message's head %q %v", what, h.Raw, err)
		}
		f := bundleFiles(t, d, id)
		if !bytes.Equal(f["message.eml"], msg) || !bytes.Equal(f["complaint.eml"], complaint) {
			t.Errorf("%s: the evidence bundle's message or complaint differs", what)
		}
	}

	// A raw upload: the complaint is the message.
	raw := spam(41)
	up := submit(intake.Submission{Channel: intake.ChannelSMTP, Raw: raw, Reporter: "alice@example.net", SubmittedBy: "smtp"}, 1)[0]
	check("raw upload", up.ID, raw, raw)
	// A forward: the complaint wraps the message.
	fw := forwarded("bob@example.net", spam(42))
	fwd := submit(intake.Submission{Channel: intake.ChannelSMTP, Raw: fw, Reporter: "bob@example.net", SubmittedBy: "smtp"}, 1)[0]
	check("forward", fwd.ID, spam(42), fw)
	// An ARF report: the complaint wraps the message.
	arf := arfOf("fbl@isp.example", "carol@example.net", string(spam(43)))
	fb := submit(intake.Submission{Channel: intake.ChannelAPI, Raw: arf, SubmittedBy: "token:isp"}, 1)[0]
	check("ARF", fb.ID, spam(43), arf)
	// One complaint, two reports.
	two := twoAttached("dan@example.net", spam(44), spam(45))
	pair := submit(intake.Submission{Channel: intake.ChannelSMTP, Raw: two, Reporter: "dan@example.net", SubmittedBy: "smtp"}, 2)
	check("first of two", pair[0].ID, spam(44), two)
	check("second of two", pair[1].ID, spam(45), two)

	// The federation's reports to share: the message, and the reporter's
	// name as the complaint's From gives it.
	got := map[string]*intake.Report{}
	reporters := map[string]string{}
	if err := s.SharedReports(ctx, []string{up.ID, fwd.ID}, func(r *intake.Report, reporter string) error {
		got[r.ID], reporters[r.ID] = r, reporter
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if r := got[up.ID]; r == nil || !bytes.Equal(r.Raw, raw) || reporters[up.ID] != intake.ReporterMailbox(raw, "alice@example.net") {
		t.Errorf("shared raw upload: %v %q", r != nil, reporters[up.ID])
	}
	if r := got[fwd.ID]; r == nil || !bytes.Equal(r.Raw, spam(42)) || reporters[fwd.ID] != intake.ReporterMailbox(fw, "bob@example.net") {
		t.Errorf("shared forward: %v %q", r != nil, reporters[fwd.ID])
	}
	// The reporter's own export.
	mine, err := d.Mine(ctx, up.ID, up.StatusToken)
	if err != nil || !bytes.Equal(mine.Report.Raw, raw) || !bytes.Equal(mine.Complaint.Raw, raw) {
		t.Fatalf("the reporter's export of a raw upload: %v", err)
	}

	// Erasure of a raw upload whose campaign is being worked: the
	// complaint goes, the message stays as the report's evidence.
	svc := &cases.Service{Store: s, Campaigns: s, Now: clk.now}
	heldMsg := []byte("From: shop@pills.example\r\nTo: bob@example.net\r\nSubject: Cheap pills today\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n\r\n" +
		"Buy cheap pills online at http://pills.example/buy with free delivery worldwide and no prescription needed today only.\r\n")
	held := submit(intake.Submission{Channel: intake.ChannelAPI, Raw: heldMsg, SubmittedBy: "token:t"}, 1)[0]
	hr, _ := s.Report(ctx, held.ID)
	if _, err := svc.SetStatus(ctx, hr.CampaignID, -1, cases.Investigating, "", "user:ana"); err != nil {
		t.Fatal(err)
	}
	if e, err := d.Erase(ctx, held.ID, held.StatusToken); err != nil || e.Held != 1 {
		t.Fatalf("erase a held raw upload: %+v %v", e, err)
	}
	gr, _ := s.Report(ctx, held.ID)
	gc, _ := s.Complaint(ctx, hr.ComplaintID)
	if !bytes.Equal(gr.Raw, heldMsg) || len(gc.Raw) != 0 || gc.PurgedAt.IsZero() {
		t.Errorf("after erasing a held raw upload: message %d bytes, complaint %d bytes", len(gr.Raw), len(gc.Raw))
	}
	if tomb := lastAction(t, s, held.ID); !strings.Contains(tomb.Detail, strconv.Itoa(len(heldMsg))+" bytes") {
		t.Errorf("the tombstone does not give the complaint's size: %s", tomb.Detail)
	}
	// Its original bundle still verifies: the message, and the complaint
	// named as erased.
	removedFrom(t, d, held.ID, "complaint.eml")
	// Erasure of a raw upload: both go.
	if e, err := d.Erase(ctx, up.ID, up.StatusToken); err != nil || e.Held != 0 {
		t.Fatalf("erase the raw upload: %+v %v", e, err)
	}
	gr, _ = s.Report(ctx, up.ID)
	gc, _ = s.Complaint(ctx, gr.ComplaintID)
	if len(gr.Raw) != 0 || len(gc.Raw) != 0 || gr.PurgedAt.IsZero() || gc.PurgedAt.IsZero() {
		t.Errorf("after erasing the raw upload: message %d bytes, complaint %d bytes", len(gr.Raw), len(gc.Raw))
	}
	if tomb := lastAction(t, s, up.ID); !strings.Contains(tomb.Detail, fmt.Sprintf("%d bytes) and the reporter", len(raw))) {
		t.Errorf("the erasure's tombstone: %s", tomb.Detail)
	}
	// The others are untouched.
	check("forward after the erasures", fwd.ID, spam(42), fw)

	// A forward of a forward (Carol's forward to her firm's abuse@,
	// passed on by the abuse desk): the From of the level unwrapped is
	// kept with the report, for the federation and the bundle to cut her
	// name, and goes with the message.
	carol := "Carol Martin <victim@example.net>"
	cf := []byte(strings.NewReplacer("To: abuse@node.example", "To: abuse@example.net", "boundary=b", "boundary=c", "--b", "--c").Replace(string(forwarded(carol, spam(48)))))
	ff := forwarded("abuse@example.net", cf)
	fof := submit(intake.Submission{Channel: intake.ChannelSMTP, Raw: ff, Reporter: "abuse@example.net", SubmittedBy: "smtp"}, 1)[0]
	check("forward of a forward", fof.ID, spam(48), ff)
	if r, err := s.Report(ctx, fof.ID); err != nil || len(r.Forwarders) != 1 || r.Forwarders[0] != carol {
		t.Errorf("the forward of a forward's forwarders: %q %v", r.Forwarders, err)
	}
	var shared []string
	if err := s.SharedReports(ctx, []string{fof.ID}, func(r *intake.Report, _ string) error { shared = r.Forwarders; return nil }); err != nil || len(shared) != 1 || shared[0] != carol {
		t.Errorf("the forward of a forward's forwarders, shared: %q %v", shared, err)
	}
	if _, err := d.Erase(ctx, fof.ID, fof.StatusToken); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Report(ctx, fof.ID); err != nil || len(r.Forwarders) != 0 || len(r.Raw) != 0 {
		t.Errorf("after erasing the forward of a forward: forwarders %q, message %d bytes, %v", r.Forwarders, len(r.Raw), err)
	}

	// Retention of a raw upload: the identity first (the message stays),
	// then the evidence, then the report.
	late := submit(intake.Submission{Channel: intake.ChannelAPI, Raw: spam(47), SubmittedBy: "token:t"}, 1)[0]
	clk.set(clock.Add(40 * 24 * time.Hour))
	if _, err := d.Purge(ctx, intake.Retention{Identity: 30 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	lr, _ := s.Report(ctx, late.ID)
	lc, _ := s.Complaint(ctx, lr.ComplaintID)
	if !bytes.Equal(lr.Raw, spam(47)) || len(lc.Raw) != 0 || lc.PurgedAt.IsZero() {
		t.Errorf("after the identity purge: message %d bytes, complaint %d bytes", len(lr.Raw), len(lc.Raw))
	}
	if tomb := lastAction(t, s, late.ID); tomb.Action != "purged-identity" || !strings.Contains(tomb.Detail, strconv.Itoa(len(spam(47)))+" bytes") {
		t.Errorf("identity tombstone: %+v", tomb)
	}
	removedFrom(t, d, late.ID, "complaint.eml")
	if _, err := d.Purge(ctx, intake.Retention{Evidence: 30 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if lr, _ = s.Report(ctx, late.ID); len(lr.Raw) != 0 || lr.PurgedAt.IsZero() {
		t.Errorf("after the evidence purge: message %d bytes", len(lr.Raw))
	}
	removedFrom(t, d, late.ID, "complaint.eml", "message.eml")
	if _, err := svc.SetStatus(ctx, hr.CampaignID, -1, cases.Closed, "done", "user:ana"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Purge(ctx, intake.Retention{Statistics: 30 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{late.ID, up.ID, held.ID, fwd.ID, fof.ID} {
		if _, err := s.Report(ctx, id); !errors.Is(err, intake.ErrNotFound) {
			t.Errorf("report %s survived its statistics retention: %v", id, err)
		}
	}
	if _, err := s.Complaint(ctx, lr.ComplaintID); !errors.Is(err, intake.ErrNotFound) {
		t.Errorf("the complaint of a deleted raw upload survived: %v", err)
	}
}

// MessagesAtRest checks, on the database behind s, that a raw upload's
// bytes are stored once (the complaint keeps none of its own), a
// forward's twice (the complaint and the message inside it differ), and
// that erasure leaves none. rebind turns "?" into the database's
// placeholders.
func MessagesAtRest(t *testing.T, s Store, db *sql.DB, rebind func(string) string) {
	ctx := context.Background()
	d := desk(t, s)
	stored := func() (n int64) {
		t.Helper()
		var a, b int64
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(LENGTH(raw)), 0) FROM complaints`).Scan(&a); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `SELECT COALESCE(SUM(LENGTH(raw)), 0) FROM reports`).Scan(&b); err != nil {
			t.Fatal(err)
		}
		return a + b
	}
	rec, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: spam(51), SubmittedBy: "token:t"})
	if err != nil {
		t.Fatal(err)
	}
	if n := stored(); n != int64(len(spam(51))) {
		t.Errorf("a raw upload of %d bytes takes %d bytes at rest", len(spam(51)), n)
	}
	fw := forwarded("bob@example.net", spam(52))
	if _, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: fw, Reporter: "bob@example.net", SubmittedBy: "smtp"}); err != nil {
		t.Fatal(err)
	}
	if n := stored(); n != int64(len(spam(51))+len(fw)+len(spam(52))) {
		t.Errorf("with a forward, %d bytes at rest", n)
	}
	if _, err := d.Erase(ctx, rec.Reports[0].ID, rec.Reports[0].StatusToken); err != nil {
		t.Fatal(err)
	}
	if n := stored(); n != int64(len(fw)+len(spam(52))) {
		t.Errorf("after erasing the raw upload, %d bytes at rest", n)
	}
	var left int
	if err := db.QueryRowContext(ctx, rebind(`SELECT COUNT(*) FROM complaints WHERE raw_report <> ''`)).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d complaints still name a report's bytes after erasure: %v", left, err)
	}
	// The evidence retention takes a raw upload's complaint and message
	// alike, and leaves no complaint naming a report.
	if _, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: spam(53), SubmittedBy: "token:t"}); err != nil {
		t.Fatal(err)
	}
	later := clock.Add(365 * 24 * time.Hour)
	if n, err := s.PurgeEvidence(ctx, later, later, "test", 100); err != nil || n != 2 {
		t.Fatalf("evidence purge: %d %v", n, err)
	}
	if n := stored(); n != 0 {
		t.Errorf("after the evidence purge, %d bytes at rest", n)
	}
}

// MigrateMessagesOnce fills a database at schema version 26 (db, as
// OpenAt left it) with complaints and reports as that version stored
// them, then opens it with reopen, which migrates it, and checks that
// every complaint and report reads back byte for byte and that only the
// complaints that were their report's message gave up their copy.
func MigrateMessagesOnce(t *testing.T, db *sql.DB, rebind func(string) string, reopen func() Store) {
	ctx := context.Background()
	at := clock.UnixNano()
	type row struct {
		id, complaint string
		raw           []byte
		purged        bool
	}
	complaints := []row{
		{id: "c-raw", raw: spam(61)},
		{id: "c-fwd", raw: forwarded("bob@example.net", spam(62))},
		{id: "c-two", raw: twoAttached("dan@example.net", spam(63), spam(64))},
		{id: "c-gone", raw: []byte{}, purged: true},
		{id: "c-twice", raw: spam(66)},
		{id: "c-evid", raw: spam(67)},
		{id: "c-held", raw: spam(68)},
	}
	reports := []row{
		{id: "r-raw", complaint: "c-raw", raw: spam(61)},
		{id: "r-fwd", complaint: "c-fwd", raw: spam(62)},
		{id: "r-two-a", complaint: "c-two", raw: spam(63)},
		{id: "r-two-b", complaint: "c-two", raw: spam(64)},
		{id: "r-gone", complaint: "c-gone", raw: spam(65)},
		{id: "r-twice-b", complaint: "c-twice", raw: spam(66)},
		{id: "r-twice-a", complaint: "c-twice", raw: spam(66)},
		{id: "r-evid", complaint: "c-evid", raw: []byte{}, purged: true},
		{id: "r-held", complaint: "c-held", raw: spam(68)},
	}
	for _, c := range complaints {
		var purged int64
		if c.purged {
			purged = at
		}
		if _, err := db.ExecContext(ctx, rebind(`INSERT INTO complaints (id, received_at, channel, sha256, reporter_id, raw, purged_at) VALUES (?, ?, 'api', 'x', '', ?, ?)`),
			c.id, at, c.raw, purged); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range reports {
		var purged int64
		if r.purged {
			purged = at
		}
		if _, err := db.ExecContext(ctx, rebind(`INSERT INTO reports (id, complaint_id, received_at, channel, form, unverifiable, feedback, sha256, raw,
			reporter_id, submitted_by, consent, customer, status_hash, verdict, signature, campaign_id, campaign_why, subject, from_domain,
			origin_ip, country, asn, network, spam_score, reporter_auth, purged_at)
			VALUES (?, ?, ?, 'api', 'raw', '[]', '{}', 'x', ?, '', 'token:t', 'unknown', 'unknown', ?, '{}', '{}', 'camp', 'new', '', '', '', '', 0, '', -1, '', ?)`),
			r.id, r.complaint, at, r.raw, "h-"+r.id, purged); err != nil {
			t.Fatal(err)
		}
	}
	s := reopen()
	ctx2 := context.Background()
	for _, c := range complaints {
		got, err := s.Complaint(ctx2, c.id)
		if err != nil || !bytes.Equal(got.Raw, c.raw) {
			t.Errorf("complaint %s after the migration: %d bytes, want %d (%v)", c.id, len(got.Raw), len(c.raw), err)
		}
	}
	for _, r := range reports {
		got, err := s.Report(ctx2, r.id)
		if err != nil || !bytes.Equal(got.Raw, r.raw) {
			t.Errorf("report %s after the migration: %d bytes, want %d (%v)", r.id, len(got.Raw), len(r.raw), err)
		}
	}
	want := map[string]string{"c-raw": "r-raw", "c-twice": "r-twice-a", "c-held": "r-held"}
	rows, err := db.QueryContext(ctx, `SELECT id, raw_report, LENGTH(raw) FROM complaints`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, of string
		var n int64
		if err := rows.Scan(&id, &of, &n); err != nil {
			t.Fatal(err)
		}
		if of != want[id] || (of != "" && n != 0) {
			t.Errorf("complaint %s names %q and keeps %d bytes, want %q", id, of, n, want[id])
		}
	}
	// A converted complaint is erased as one stored before: its bytes go,
	// its report's message stays while the report's evidence is kept.
	if _, err := s.PurgeIdentity(ctx2, clock.Add(time.Hour), clock.Add(time.Hour), "test", 100); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Complaint(ctx2, "c-held"); len(c.Raw) != 0 {
		t.Errorf("the identity purge left %d bytes of a converted complaint", len(c.Raw))
	}
	if r, _ := s.Report(ctx2, "r-held"); !bytes.Equal(r.Raw, spam(68)) {
		t.Errorf("the identity purge took a converted complaint's report's message")
	}
}
