package storetest

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
)

// receivedCustody is the attack review's insider at the receiving node,
// on each database: sixteen items a peer sent, two withdrawn (one kept
// 30 days, one purged at once), fourteen then edited at rest behind the
// node's back — deleted, marked withdrawn, moved to another campaign,
// its updated time changed, filed under another kind, another key,
// another peer, put back to the version a later envelope superseded,
// kept longer by moving its receipt time with its expiry, a withdrawn
// one kept past the days its withdrawal allowed, a standing one deleted
// and marked purged, its proof of origin (signing time, signature)
// changed, two origins made one; and the link's sequence rolled back. custody verify said OK to
// each; it now names each.
func receivedCustody(t *testing.T, s Store) {
	ctx := context.Background()
	clock := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	peerPub, peerPriv, _ := ed25519.GenerateKey(nil)
	ownPub, ownPriv, _ := ed25519.GenerateKey(nil)
	peerKey, ownKey := base64.StdEncoding.EncodeToString(peerPub), base64.StdEncoding.EncodeToString(ownPub)
	if err := s.AddPeer(ctx, federation.Peer{Name: "us", URL: "http://127.0.0.1:9", Jurisdiction: "US", Status: federation.StatusActive, Added: clock,
		Keys: []federation.PeerKey{{Key: peerKey, Status: federation.KeyActive, Added: clock}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordOwnKey(ctx, federation.OwnKey{Key: ownKey, Added: clock}); err != nil {
		t.Fatal(err)
	}
	// What US sent: ten reports of one campaign, in one package; the
	// eighth as a log written before campaign and updated time were hashed
	// records it (MarkedV1).
	terms := &federation.Terms{Agreement: "US-FR", Version: 1, RetentionDays: 365}
	var items []federation.Item
	include := map[string]bool{}
	for i := 1; i <= 16; i++ {
		body, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("r-%d", i), "subject": "Cheap meds"})
		it := federation.Item{Key: fmt.Sprintf("rep:r-%d", i), Kind: federation.KindReports, TLP: federation.TLPAmber, Origins: []string{"US"},
			Campaign: "c-1", Updated: clock.Add(time.Duration(i) * time.Minute), Body: body, Hash: federation.HashBody(body)}
		if i == 16 {
			it.Origins = []string{"US", "CA"}
		}
		items = append(items, it)
		include[it.Key] = true
	}
	pkg, err := federation.BuildPackage(peerPriv, "pkg-1", items, include, clock)
	if err != nil {
		t.Fatal(err)
	}
	payload := &federation.Payload{Terms: terms, Packages: []federation.Package{pkg}}
	entries := federation.EnvelopeLeaves(1, payload, clock)
	leaves := make([][]byte, len(entries))
	for i := range entries {
		if e := &entries[i]; e.Key == "rep:r-8" {
			e.Hash = items[7].MarkedV1(terms)
			e.Leaf = federation.TransferLeaf(e.Seq, e.What, e.Key, e.Hash)
		}
		entries[i].Index = uint64(i)
		leaves[i] = entries[i].Leaf
	}
	// checkpoint is envelope seq's checkpoint over the log so far, signed
	// by both ends; received is what a package brought in envelope seq.
	checkpoint := func(seq uint64, at time.Time) federation.Checkpoint {
		c := federation.Checkpoint{From: peerKey, To: ownKey, Seq: seq, Size: uint64(len(leaves)), Root: hex.EncodeToString(federation.Root(leaves)), Time: at, Recorded: at}
		c.SenderSignature = base64.StdEncoding.EncodeToString(ed25519.Sign(peerPriv, c.Statement()))
		c.ReceiverSignature = base64.StdEncoding.EncodeToString(ed25519.Sign(ownPriv, c.Statement()))
		return c
	}
	received := func(p federation.Package, seq uint64, at time.Time) []federation.ReceivedItem {
		var out []federation.ReceivedItem
		for _, pi := range p.Items {
			out = append(out, federation.ReceivedItem{Peer: "us", Item: pi.Item, Package: p.ID, Root: p.Root, Signature: p.Signature,
				SignedAt: p.SignedAt, Seq: seq, ReceivedAt: at, Terms: *terms, ExpiresAt: at.AddDate(0, 0, 365),
				Proof: &federation.ItemProof{Size: p.Size, Index: pi.Index, Path: pi.Proof}})
		}
		return out
	}
	rec := federation.Receipt{Peer: "us", Seq: 1, PayloadHash: "ph", At: clock, Terms: terms, Entries: entries, Checkpoint: checkpoint(1, clock), Items: received(pkg, 1, clock)}
	if err := s.CommitReceived(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// Envelope 2 brings a later version of rep:r-9 (one more report).
	clock2 := clock.Add(10 * time.Minute)
	body8, _ := json.Marshal(map[string]any{"id": "r-9", "subject": "Cheap meds", "reports": 2})
	it8 := items[8]
	it8.Updated, it8.Body, it8.Hash = clock2, body8, federation.HashBody(body8)
	pkg2, err := federation.BuildPackage(peerPriv, "pkg-2", []federation.Item{it8}, map[string]bool{it8.Key: true}, clock2)
	if err != nil {
		t.Fatal(err)
	}
	entries2 := federation.EnvelopeLeaves(2, &federation.Payload{Terms: terms, Packages: []federation.Package{pkg2}}, clock2)
	for i := range entries2 {
		entries2[i].Index = uint64(len(leaves))
		leaves = append(leaves, entries2[i].Leaf)
	}
	rec2 := federation.Receipt{Peer: "us", Seq: 2, PayloadHash: "ph2", At: clock2, Terms: terms, Entries: entries2, Checkpoint: checkpoint(2, clock2), Items: received(pkg2, 2, clock2)}
	if err := s.CommitReceived(ctx, rec2); err != nil {
		t.Fatal(err)
	}
	// Envelopes 3 and 4 withdraw rep:r-11 (kept 30 days) and rep:r-13
	// (kept 0 days: purged with its withdrawal), each under its terms.
	withdraw := func(seq uint64, at time.Time, terms *federation.Terms, it federation.Item) {
		t.Helper()
		pl := &federation.Payload{Terms: terms, Withdrawals: []federation.Withdrawal{{Key: it.Key, Hash: it.Hash, Clause: "origins", Reason: "narrowed"}}}
		es := federation.EnvelopeLeaves(seq, pl, at)
		for i := range es {
			es[i].Index = uint64(len(leaves))
			leaves = append(leaves, es[i].Leaf)
		}
		if err := s.CommitReceived(ctx, federation.Receipt{Peer: "us", Seq: seq, PayloadHash: fmt.Sprintf("ph%d", seq), At: at, Terms: terms,
			Withdrawals: pl.Withdrawals, Entries: es, Checkpoint: checkpoint(seq, at)}); err != nil {
			t.Fatal(err)
		}
	}
	withdraw(3, clock.Add(20*time.Minute), &federation.Terms{Agreement: "US-FR", Version: 2, RetentionDays: 365, KeepWithdrawnDays: 30}, items[10])
	withdraw(4, clock.Add(30*time.Minute), &federation.Terms{Agreement: "US-FR", Version: 3, RetentionDays: 365}, items[12])
	if n, err := s.PurgeExpired(ctx, clock.Add(2*time.Hour)); err != nil || n != 0 {
		t.Fatalf("purge: %d purged, %v; want none (rep:r-13 went with its withdrawal)", n, err)
	}
	old8, _ := json.Marshal(items[8])
	purged12 := items[11]
	purged12.Body = nil
	gone12, _ := json.Marshal(purged12)
	svc := &federation.Service{Store: s, Key: ownPriv, Now: func() time.Time { return clock.Add(3 * time.Hour) }}
	verify := func() (federation.CustodyReport, string) {
		t.Helper()
		rep, err := svc.VerifyCustody(ctx, "us")
		if err != nil {
			t.Fatal(err)
		}
		return rep, strings.Join(rep.Problems, "\n")
	}
	if rep, got := verify(); got != "" || rep.Items != 16 || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "1 received items were logged before") {
		t.Fatalf("custody before any edit: %d items, notes %q, problems:\n%s", rep.Items, rep.Notes, got)
	}
	db, ok := s.(interface{ DB() *sql.DB })
	if !ok {
		t.Fatal("the store does not expose its database")
	}
	updated4 := clock.Add(4 * time.Minute).Format(time.RFC3339Nano)
	for _, q := range []string{
		`DELETE FROM fed_received WHERE peer = 'us' AND item_key = 'rep:r-1'`,
		`UPDATE fed_received SET withdrawn_at = 1, withdrawn_why = 'fake' WHERE item_key = 'rep:r-2'`,
		`UPDATE fed_received SET item = REPLACE(item, '"campaign":"c-1"', '"campaign":"c-other"') WHERE item_key = 'rep:r-3'`,
		`UPDATE fed_received SET item = REPLACE(item, '"updated":"` + updated4 + `"', '"updated":"2027-01-01T00:00:00Z"') WHERE item_key = 'rep:r-4'`,
		`UPDATE fed_received SET kind = 'statistics' WHERE item_key = 'rep:r-5'`,
		`UPDATE fed_received SET item_key = 'rep:renamed' WHERE item_key = 'rep:r-6'`,
		`UPDATE fed_received SET peer = 'xx' WHERE item_key = 'rep:r-7'`,
		// Rolled back to the version envelope 1 brought (logged, so its
		// hash matches a log entry), though envelope 2 superseded it.
		`UPDATE fed_received SET item = '` + string(old8) + `', seq = 1 WHERE item_key = 'rep:r-9'`,
		// Kept 300 days longer: its receipt time moved with its expiry.
		`UPDATE fed_received SET received_at = received_at + 25920000000000000, expires_at = expires_at + 25920000000000000 WHERE item_key = 'rep:r-10'`,
		// Withdrawn with 30 days to go, kept a year: its expiry (and the
		// withdrawal time) moved.
		`UPDATE fed_received SET expires_at = expires_at + 31536000000000000, withdrawn_at = withdrawn_at + 31536000000000000 WHERE item_key = 'rep:r-11'`,
		// Standing, 365 days to go, never withdrawn: deleted and marked
		// purged.
		`UPDATE fed_received SET item = '` + string(gone12) + `', purged_at = ` + fmt.Sprint(clock.Add(2*time.Hour).UnixNano()) + ` WHERE item_key = 'rep:r-12'`,
		// The proof of origin the node shows: its signing time, then its
		// signature and root, changed.
		`UPDATE fed_received SET signed_at = 1 WHERE item_key = 'rep:r-14'`,
		`UPDATE fed_received SET signature = 'AAAA', root = '00' WHERE item_key = 'rep:r-15'`,
		// The sequence the replay check rests on, rolled back.
		`UPDATE fed_links SET in_seq = 2 WHERE peer = 'us'`,
		// Two origins made one (they joined alike in the hash).
		`UPDATE fed_received SET item = REPLACE(item, '"origins":["US","CA"]', '"origins":["US,CA"]') WHERE item_key = 'rep:r-16'`,
	} {
		res, err := db.DB().ExecContext(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("%s changed %d rows", q, n)
		}
	}
	_, got := verify()
	if strings.Contains(got, "rep:r-8") {
		t.Errorf("an item logged before campaign and time were hashed, unchanged, does not verify:\n%s", got)
	}
	for what, want := range map[string]string{
		"item deleted":                     "received item rep:r-1: envelope 1 brought it, yet it is neither held, withdrawn nor purged",
		"withdrawal mark with none logged": "received item rep:r-2: shown as withdrawn, but no logged withdrawal",
		"moved to another campaign":        `received item rep:r-3: its hash`,
		"updated time changed":             `received item rep:r-4: its hash`,
		"kind column changed":              "received item rep:r-5 (reports): filed as rep:r-5 (statistics)",
		"key column changed":               "received item rep:r-6 (reports): filed as rep:renamed (reports)",
		"peer column changed":              "received item rep:r-7: envelope 1 brought it, yet it is neither",
		"rolled back to an older version":  "received item rep:r-9: held as envelope 1 brought it, but envelope 2 brought a later version",
		"receipt time moved with expiry":   "received item rep:r-10: kept ",
		"withdrawn, kept past its terms":   "received item rep:r-11: kept until 2027-12-03T10:20:00Z, past the 30 days its terms allow after its withdrawal by envelope 3",
		"deletion passed off as a purge":   "received item rep:r-12: marked purged at 2026-11-03T12:00:00Z, before its terms let it go",
		"signing time changed":             "received item rep:r-14: its proof of origin",
		"signature and root changed":       "received item rep:r-15: its proof of origin",
		"link sequence rolled back":        "in: the link's last envelope is 2, but its last checkpoint is of envelope 4",
		"two origins made one":             "received item rep:r-16: its hash",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("%s: not found by custody verify:\n%s", what, got)
		}
	}
	if !strings.Contains(got, `campaign "c-other"`) {
		t.Errorf("the campaign problem does not say the campaign:\n%s", got)
	}
	// The log's last entry deleted: shorter than its checkpoint, said as
	// such (the unsigned difference printed 18446744073709551615 entries).
	if _, err := db.DB().ExecContext(ctx, `DELETE FROM fed_log WHERE peer = 'us' AND dir = 'in' AND idx = (SELECT MAX(idx) FROM fed_log WHERE peer = 'us' AND dir = 'in')`); err != nil {
		t.Fatal(err)
	}
	if _, got := verify(); !strings.Contains(got, "in log: 20 entries, 1 fewer than its last checkpoint (size 21) signed") || strings.Contains(got, "18446744073709551") {
		t.Errorf("the log's tail deleted:\n%s", got)
	}
	// An intermediate checkpoint deleted: the time checks take their signed
	// times from it, and only the last must cover the log, so without this
	// check a moved retention, a withdrawal's keep or a purge behind it
	// would verify OK.
	if _, err := db.DB().ExecContext(ctx, `DELETE FROM fed_checkpoints WHERE peer = 'us' AND dir = 'in' AND seq = 3`); err != nil {
		t.Fatal(err)
	}
	if _, got := verify(); !strings.Contains(got, "in log: envelope 3 has logged entries but no stored checkpoint") {
		t.Errorf("an intermediate checkpoint deleted:\n%s", got)
	}
}
