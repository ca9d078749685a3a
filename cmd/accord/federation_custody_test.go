package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sqlite opens a stopped node's database to play the attacker.
func sqliteOf(t *testing.T, a *authority) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(a.data, "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func dbExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestCustodyAndIdentityFromTheBinary: FR and DE exchange; DE rotates its
// key and FR later revokes the retired one: custody still verifies and
// says why; FR's TAXII collection for DE keeps its id and objects across
// FR's own rotation; an edited received item and a truncated log tail are
// found, the tail only by comparing with the partner's countersigned
// checkpoints.
func TestCustodyAndIdentityFromTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	dir := t.TempDir()
	fr := startNode(t, bin, dir, "fr", "FR", "")
	de := startNode(t, bin, dir, "de", "DE", "")
	toDE := writeFile(t, filepath.Join(dir, "fr-de.toml"), `id = "FR-DE"
version = 1
audience = ["de"]
share = ["indicators", "campaigns", "reports", "statistics"]
tlp_max = "amber"
origins = ["*"]
`)
	toFR := writeFile(t, filepath.Join(dir, "de-fr.toml"), "id = \"DE-FR\"\nversion = 1\naudience = [\"fr\"]\nshare = []\n")
	fr.run(t, bin, "peer", "add", "de", "--url", "http://"+de.s.http, "--key", de.key, "--jurisdiction", "DE", "--agreement", toDE)
	de.run(t, bin, "peer", "add", "fr", "--url", "http://"+fr.s.http, "--key", fr.key, "--jurisdiction", "FR", "--agreement", toFR)
	post, _ := poster(t, bin, fr)
	for i := 0; i < 6; i++ {
		post(federationSpam(fmt.Sprintf("46.4.0.%d", i+1), "angebot@spam-de.example", "Angebot", i))
	}
	fr.run(t, bin, "peer", "sync", "de")

	// FR's TAXII collection for DE: its id and objects survive FR's key
	// rotation.
	tok := lastLine(fr.run(t, bin, "peer", "token", "de"))
	collection := func() (string, map[string]bool) {
		t.Helper()
		get := func(u string) map[string]any {
			req, _ := http.NewRequest("GET", "http://"+fr.s.http+u, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			var m map[string]any
			json.Unmarshal(b, &m)
			return m
		}
		cols, _ := get("/taxii2/api/collections/")["collections"].([]any)
		if len(cols) != 1 {
			t.Fatalf("collections: %v", cols)
		}
		id := cols[0].(map[string]any)["id"].(string)
		objs, _ := get("/taxii2/api/collections/" + id + "/objects/?limit=1000")["objects"].([]any)
		ids := map[string]bool{}
		for _, o := range objs {
			ids[o.(map[string]any)["id"].(string)] = true
		}
		return id, ids
	}
	col, _ := collection()
	// The peer token's use is recorded: last used, and audited.
	if list := fr.run(t, bin, "token", "list"); !regexp.MustCompile(`(?m)^\S+\s+peer\s+de\s+\S+ \S+\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+-\s*$`).MatchString(list) {
		t.Errorf("the peer token's last use is not recorded:\n%s", list)
	}
	if audit := fr.run(t, bin, "audit"); !strings.Contains(audit, "token-used") || !strings.Contains(audit, "/taxii2/") {
		t.Errorf("the peer token's use is not audited:\n%s", audit)
	}
	taxiiClient(t, bin, fr, de, tok, col, post, dir)
	colBefore, objsBefore := collection()
	if len(objsBefore) < 10 {
		t.Fatalf("the collection holds %d objects", len(objsBefore))
	}
	out := fr.run(t, bin, "keys", "rotate")
	frNew := regexp.MustCompile(`new key\s+(\S+)`).FindStringSubmatch(out)[1]
	fr.s.stop(t)
	fr.s = serve(t, bin, fr.data, "--config", fr.conf)
	de.run(t, bin, "peer", "set-url", "fr", "http://"+fr.s.http)
	fr.run(t, bin, "peer", "set-url", "de", "http://"+de.s.http)
	colAfter, objsAfter := collection()
	if colAfter != colBefore {
		t.Errorf("FR's key rotation changed the collection id: %s → %s", colBefore, colAfter)
	}
	for id := range objsBefore {
		if !objsAfter[id] {
			t.Errorf("%s is gone after FR's key rotation", id)
		}
	}

	// DE rotates too; FR records the new key, then revokes the retired one.
	out = de.run(t, bin, "keys", "rotate")
	deNew := regexp.MustCompile(`new key\s+(\S+)`).FindStringSubmatch(out)[1]
	de.s.stop(t)
	de.s = serve(t, bin, de.data, "--config", de.conf)
	fr.run(t, bin, "peer", "set-url", "de", "http://"+de.s.http)
	de.run(t, bin, "peer", "rotate-key", "fr", "--key", frNew)
	fr.run(t, bin, "peer", "rotate-key", "de", "--key", deNew)
	post(federationSpam("46.4.0.9", "angebot@spam-de.example", "Angebot", 9))
	fr.run(t, bin, "peer", "sync", "de")
	fr.run(t, bin, "peer", "revoke-key", "de", "--key", de.key)
	v := fr.run(t, bin, "custody", "verify", "de")
	if !strings.Contains(v, "OK:") || !strings.Contains(v, "before its revocation") {
		t.Errorf("custody after revoking a retired key:\n%s", v)
	}
	if v := de.run(t, bin, "custody", "verify", "fr"); !strings.Contains(v, "OK:") || !strings.Contains(v, "retired since") {
		t.Errorf("DE's custody after FR's rotation:\n%s", v)
	}
	if c := fr.run(t, bin, "custody", "compare", "de"); !strings.Contains(c, "OK:") {
		t.Errorf("compare before any tampering:\n%s", c)
	}

	// An edited received item: DE's statistics, 6 reports become 9999.
	de.s.stop(t)
	db := sqliteOf(t, de)
	var key, item string
	if err := db.QueryRow(`SELECT item_key, item FROM fed_received WHERE kind = 'statistics' AND withdrawn_at = 0 AND purged_at = 0`).Scan(&key, &item); err != nil {
		t.Fatal(err)
	}
	var it map[string]any
	json.Unmarshal([]byte(item), &it)
	body, _ := json.Marshal(map[string]any{"reports": 9999, "reports_by_origin": []any{}, "cells_suppressed": 0, "min_count": 5, "source": "FR"})
	it["body"] = body // []byte marshals as base64, as stored
	edited, _ := json.Marshal(it)
	dbExec(t, db, `UPDATE fed_received SET item = ? WHERE item_key = ?`, string(edited), key)
	db.Close()
	de.s = serve(t, bin, de.data, "--config", de.conf)
	if v := de.runFail(t, bin, "custody", "verify", "fr"); !strings.Contains(v, "received item "+key) || !strings.Contains(v, "changed since") {
		t.Errorf("an edited statistics item:\n%s", v)
	}

	// A truncated tail at FR: its last envelope's log entries and
	// checkpoint deleted, its sequence rolled back. FR's own verification
	// cannot see it; comparing with DE's countersigned checkpoint does.
	fr.s.stop(t)
	db = sqliteOf(t, fr)
	var last int64
	db.QueryRow(`SELECT MAX(seq) FROM fed_checkpoints WHERE peer = 'de' AND dir = 'out'`).Scan(&last)
	dbExec(t, db, `DELETE FROM fed_log WHERE peer = 'de' AND dir = 'out' AND seq = ?`, last)
	dbExec(t, db, `DELETE FROM fed_checkpoints WHERE peer = 'de' AND dir = 'out' AND seq = ?`, last)
	dbExec(t, db, `UPDATE fed_links SET out_seq = ? WHERE peer = 'de'`, last-1)
	db.Close()
	fr.s = serve(t, bin, fr.data, "--config", fr.conf)
	de.run(t, bin, "peer", "set-url", "fr", "http://"+fr.s.http)
	fr.run(t, bin, "peer", "set-url", "de", "http://"+de.s.http)
	if v := fr.run(t, bin, "custody", "verify", "de"); !strings.Contains(v, "OK:") {
		t.Errorf("a consistent truncation is expected to verify locally:\n%s", v)
	}
	c := fr.runFail(t, bin, "custody", "compare", "de")
	if !strings.Contains(c, "truncated tail") || !strings.Contains(c, "lost the last 1 envelope") {
		t.Errorf("compare after FR's tail was truncated:\n%s", c)
	}
	// And seen from DE: the partner's log is shorter than what it
	// countersigned.
	if c := de.runFail(t, bin, "custody", "compare", "fr"); !strings.Contains(c, "truncated tail") {
		t.Errorf("DE's compare:\n%s", c)
	}
	fr.s.stop(t)
	de.s.stop(t)
}

// taxiiClient polls FR's collection for DE as a TAXII 2.1 client would:
// exact pages, every object once, added_after across an agreement change,
// versions, filters, statistics, the description; its reads enter the
// custody log with the next envelope.
func taxiiClient(t *testing.T, bin string, fr, de *authority, tok, col string, post func(string), dir string) {
	t.Helper()
	get := func(u string) (map[string]any, http.Header) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+fr.s.http+"/taxii2/api/collections/"+col+"/"+u, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/taxii+json;version=2.1")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", u, res.StatusCode, b)
		}
		return m, res.Header
	}
	poll := func(after string) (map[string]int, string) {
		seen, last, next := map[string]int{}, "", ""
		for {
			u := "objects/?limit=4"
			if after != "" {
				u += "&added_after=" + after
			}
			if next != "" {
				u += "&next=" + next
			}
			m, h := get(u)
			objs, _ := m["objects"].([]any)
			if len(objs) > 4 || m["more"] == true && len(objs) != 4 {
				t.Errorf("a page of %d objects with limit=4 (more %v)", len(objs), m["more"])
			}
			for _, o := range objs {
				seen[o.(map[string]any)["id"].(string)]++
			}
			if l := h.Get("X-TAXII-Date-Added-Last"); l != "" {
				last = l
			}
			if m["more"] != true {
				return seen, last
			}
			next = m["next"].(string)
		}
	}
	seen, last := poll("")
	var campaign string
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s served %d times", id, n)
		}
		if strings.HasPrefix(id, "campaign--") {
			campaign = id
		}
	}
	if again, _ := poll(last); len(again) != 0 {
		t.Errorf("polling from the last date_added served %d objects again", len(again))
	}
	// A new report and a narrower agreement then a wider one: polling
	// from the last date_added gets the changes, each once.
	post(federationSpam("46.4.0.30", "angebot@spam-de.example", "Angebot", 30))
	wider := writeFile(t, filepath.Join(dir, "fr-de-v2.toml"), `id = "FR-DE"
version = 2
audience = ["de"]
share = ["indicators", "campaigns", "reports", "statistics"]
tlp_max = "amber"
origins = ["*"]
min_aggregate = 6
`)
	fr.run(t, bin, "peer", "agreement", "de", wider, "--apply")
	fresh, _ := poll(last)
	for id, n := range fresh {
		if n != 1 {
			t.Errorf("%s came %d times after the change", id, n)
		}
	}
	if fresh[campaign] != 1 || len(fresh) < 4 {
		t.Errorf("after the change the poll got %v", fresh)
	}
	if m, _ := get("objects/" + campaign + "/versions/"); len(m["versions"].([]any)) != 2 {
		t.Errorf("versions of the campaign: %v", m)
	}
	// The statistics under the old threshold left: served revoked; the
	// new ones, not.
	m, _ := get("objects/?match[type]=accord-spam-statistics")
	stats, _ := m["objects"].([]any)
	var live []map[string]any
	for _, o := range stats {
		if o.(map[string]any)["revoked"] != true {
			live = append(live, o.(map[string]any))
		}
	}
	if len(stats) != 2 || len(live) != 1 || live[0]["min_count"] != float64(6) {
		t.Errorf("statistics in the collection: %v", m)
	}
	var desc string
	req, _ := http.NewRequest("GET", "http://"+fr.s.http+"/taxii2/api/collections/"+col+"/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if res, err := http.DefaultClient.Do(req); err == nil {
		var c map[string]any
		json.NewDecoder(res.Body).Decode(&c)
		res.Body.Close()
		desc, _ = c["description"].(string)
	}
	if !strings.Contains(desc, "FR-DE version 2") || !strings.Contains(desc, "no count below 6") {
		t.Errorf("the collection's description: %q", desc)
	}
	// The reads go with the next envelope into the custody log.
	if out := fr.run(t, bin, "peer", "sync", "de"); !regexp.MustCompile(`[1-9]\d* reads`).MatchString(out) {
		t.Errorf("the reads did not go with the envelope: %s", out)
	}
}
