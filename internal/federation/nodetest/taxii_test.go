package nodetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/federation/stix"
)

func token(t testing.TB, n *node, role access.Role, label string) string {
	t.Helper()
	plain, tok := access.NewToken(nil, role, label, time.Now())
	if err := n.store.CreateToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return plain
}

type taxiiResp struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func taxiiGet(t testing.TB, url, tok, accept string) taxiiResp {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	req.Header.Set("Accept", accept)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	return taxiiResp{res.StatusCode, res.Header, m, b}
}

// bundleSchema validates what a TAXII page returns, wrapped as a bundle,
// against the OASIS STIX 2.1 schemas.
func bundleSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	base := "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/"
	dir := filepath.Join("..", "stix", "testdata", "stix2.1-json-schemas", "schemas")
	c := jsonschema.NewCompiler()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, _ := os.Open(path)
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		return c.AddResource(base+filepath.ToSlash(rel), doc)
	})
	s, err := c.Compile(base + "common/bundle.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// taxiiServer serves a node's TAXII API.
func taxiiServer(t testing.TB, n *node, c *clock) (*stix.TAXII, string) {
	tx := &stix.TAXII{Fed: n.svc, Feed: &stix.Feed{Fed: n.svc, Store: n.store, Name: strings.ToUpper(n.name) + " authority", Now: c.Now},
		Tokens: n.store, Title: strings.ToUpper(n.name)}
	mux := http.NewServeMux()
	mux.Handle(stix.Prefix, tx.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return tx, srv.URL
}

func collectionOf(t testing.TB, n *node, peer string) string {
	p, err := n.store.Peer(context.Background(), peer)
	if err != nil || p.Collection == "" {
		t.Fatalf("collection of %s: %v", peer, err)
	}
	return p.Collection
}

// poll reads a collection from added_after (empty: from the start) page by
// page with next, and returns every object and the last date_added.
func poll(t *testing.T, url, tok, after string, limit int) (objs []map[string]any, last string) {
	t.Helper()
	next := ""
	for page := 0; ; page++ {
		u := fmt.Sprintf("%sobjects/?limit=%d", url, limit)
		if after != "" {
			u += "&added_after=" + after
		}
		if next != "" {
			u += "&next=" + next
		}
		r := taxiiGet(t, u, tok, stix.TAXIIMedia)
		if r.status != 200 {
			t.Fatalf("%s: %d %s", u, r.status, r.raw)
		}
		list, _ := r.body["objects"].([]any)
		if len(list) > limit {
			t.Fatalf("page %d holds %d objects, limit %d", page, len(list), limit)
		}
		if r.body["more"] == true && len(list) != limit {
			t.Errorf("page %d holds %d objects with more to come, limit %d", page, len(list), limit)
		}
		for _, o := range list {
			objs = append(objs, o.(map[string]any))
		}
		if l := r.header.Get("X-TAXII-Date-Added-Last"); l != "" {
			last = l
		}
		if r.body["more"] != true {
			return objs, last
		}
		next = r.body["next"].(string)
	}
}

// revokedOnly reports whether a page holds objects, every one revoked.
func revokedOnly(r taxiiResp) bool {
	list, _ := r.body["objects"].([]any)
	for _, o := range list {
		if o.(map[string]any)["revoked"] != true {
			return false
		}
	}
	return r.status == 200 && len(list) > 0
}

// TestTAXIIAsTheSpecSays: a TAXII 2.1 client of a peer's collection —
// discovery, its collection described from the agreement, exact limits,
// every object once, added_after across an agreement change, stable ids
// and created across versions and key rotation, the objects, versions
// and manifest endpoints, match filters, statistics as a documented
// extension object, and its reads entering the custody log of the link.
func TestTAXIIAsTheSpecSays(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us, au := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US"), newNode(t, c, "au", "AU")
	fr.know(t, us, "US", frUSTAXII)
	fr.know(t, au, "AU", frAU)
	us.know(t, fr, "FR", back)
	for i := 0; i < 6; i++ {
		fr.file(t, spam(fmt.Sprintf("12.0.0.%d", i+1), "deals@pharma-mailer.example", "Cheap meds", pharma, i), "a@example.fr")
		c.Add(time.Minute)
	}
	fr.file(t, spam("202.96.128.1", "win@lotto-cn.example", "You won", lottery, 10), "b@example.fr")
	tx, srv := taxiiServer(t, fr, c)
	usTok, auTok, authTok := token(t, fr, access.Peer, "us"), token(t, fr, access.Peer, "au"), token(t, fr, access.Authority, "ana")
	reporterTok := token(t, fr, access.Reporter, "r")

	if r := taxiiGet(t, srv+"/taxii2/", "", stix.TAXIIMedia); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous discovery: %d", r.status)
	}
	if r := taxiiGet(t, srv+"/taxii2/", reporterTok, stix.TAXIIMedia); r.status != 401 {
		t.Errorf("a reporter token: %d", r.status)
	}
	for _, accept := range []string{"text/html", "application/json", "application/taxii+json;version=2.0"} {
		if r := taxiiGet(t, srv+"/taxii2/", usTok, accept); r.status != 406 {
			t.Errorf("Accept %s: %d, want 406 (this server speaks TAXII 2.1 only)", accept, r.status)
		}
	}
	d := taxiiGet(t, srv+"/taxii2/", usTok, stix.TAXIIMedia)
	if d.status != 200 || d.header.Get("Content-Type") != stix.TAXIIMedia || !strings.HasSuffix(d.body["default"].(string), "/taxii2/api/") {
		t.Fatalf("discovery: %d %s", d.status, d.raw)
	}
	// With the node's public URL set, discovery links are built on it.
	pub := *tx
	pub.PublicURL = "https://fr.example.org/"
	psrv := httptest.NewServer(pub.Handler())
	defer psrv.Close()
	req, _ := http.NewRequest("GET", psrv.URL+"/taxii2/", nil)
	req.Host = "evil.example"
	req.Header.Set("Authorization", "Bearer "+usTok)
	if res, err := http.DefaultClient.Do(req); err == nil {
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		res.Body.Close()
		if m["default"] != "https://fr.example.org/taxii2/api/" {
			t.Errorf("discovery with a forged Host names %v", m["default"])
		}
	}
	usID := collectionOf(t, fr, "us")
	cols := taxiiGet(t, srv+"/taxii2/api/collections/", usTok, stix.TAXIIMedia)
	list, _ := cols.body["collections"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != usID || list[0].(map[string]any)["can_write"] != false {
		t.Fatalf("US sees collections %s", cols.raw)
	}
	desc, _ := list[0].(map[string]any)["description"].(string)
	if !strings.Contains(desc, "FR-US-TAXII version 1") || !strings.Contains(desc, "campaigns, reports, statistics") || strings.Contains(desc, "evidence") ||
		!strings.Contains(desc, "TLP:AMBER") || !strings.Contains(desc, "spam from US") {
		t.Errorf("the description does not say what the agreement allows: %q", desc)
	}
	if all := taxiiGet(t, srv+"/taxii2/api/collections/", authTok, stix.TAXIIMedia); len(all.body["collections"].([]any)) != 2 {
		t.Errorf("the authority sees %s", all.raw)
	}
	usCol := srv + "/taxii2/api/collections/" + usID + "/"
	for _, p := range []string{"", "objects/", "manifest/"} {
		if r := taxiiGet(t, usCol+p, auTok, stix.TAXIIMedia); r.status != 404 || strings.Contains(string(r.raw), "pharma") {
			t.Errorf("AU reading US's collection %q: %d %s", p, r.status, r.raw)
		}
	}

	// Everything, 5 at a time: exact pages, every object once, valid STIX.
	first, last := poll(t, usCol, usTok, "", 5)
	seen := map[string]bool{}
	types := map[string]int{}
	var campaignID, statsID string
	for _, o := range first {
		k := fmt.Sprint(o["id"], o["modified"])
		if seen[k] {
			t.Errorf("%s served twice", k)
		}
		seen[k] = true
		types[o["type"].(string)]++
		if o["type"] == "campaign" {
			campaignID = o["id"].(string)
		}
		if o["type"] == stix.StatsType {
			statsID = o["id"].(string)
		}
	}
	if types["identity"] != 2 || types["marking-definition"] == 0 || types["campaign"] != 1 || types["report"] != 6 || types[stix.StatsType] != 1 ||
		types["extension-definition"] != 1 || types["indicator"] == 0 {
		t.Errorf("the collection holds %v", types)
	}
	all, _ := json.Marshal(first)
	if strings.Contains(string(all), "202.96.128") || strings.Contains(string(all), "lotto-cn") {
		t.Errorf("US's collection holds what its agreement does not allow")
	}
	schema := bundleSchema(t)
	var plain []any
	for _, o := range first {
		if o["type"] != stix.StatsType && o["type"] != "extension-definition" {
			plain = append(plain, o)
		}
	}
	bundle, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--6b1b3e2a-3d7e-4b6a-9a6c-2f1d0e8c7b5a", "objects": plain})
	doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(bundle))
	if err := schema.Validate(doc); err != nil {
		t.Errorf("the collection is not valid STIX 2.1: %v", err)
	}
	// Nothing new: polling from the last date_added returns nothing.
	if again, _ := poll(t, usCol, usTok, last, 50); len(again) != 0 {
		t.Errorf("%d objects served again after %s", len(again), last)
	}

	// A new report (the campaign changes), and a wider agreement (another
	// origin): each new or changed object comes exactly once.
	c.Add(time.Minute)
	fr.file(t, spam("12.0.0.9", "deals@pharma-mailer.example", "Cheap meds", pharma, 9), "c@example.fr")
	setAgreement(t, fr, "us", strings.Replace(strings.Replace(frUSTAXII, `origins = ["US"]`, `origins = ["US", "CN"]`, 1), "version = 1", "version = 2", 1))
	fresh, _ := poll(t, usCol, usTok, last, 3)
	ids := map[string]int{}
	for _, o := range fresh {
		ids[o["id"].(string)]++
	}
	for id, n := range ids {
		if n > 1 {
			t.Errorf("%s came %d times", id, n)
		}
	}
	freshJSON, _ := json.Marshal(fresh)
	if ids[campaignID] != 1 || !strings.Contains(string(freshJSON), "202.96.128.1") || !strings.Contains(string(freshJSON), "12.0.0.9") {
		t.Errorf("after the change, the poll got %v", ids)
	}
	if strings.Contains(string(freshJSON), `"value":"12.0.0.1"`) {
		t.Errorf("an unchanged observable came again")
	}
	// The campaign: two versions, the same id and created.
	vs := taxiiGet(t, usCol+"objects/"+campaignID+"/versions/", usTok, stix.TAXIIMedia)
	versions, _ := vs.body["versions"].([]any)
	if vs.status != 200 || len(versions) != 2 {
		t.Fatalf("versions of the campaign: %d %s", vs.status, vs.raw)
	}
	both := taxiiGet(t, usCol+"objects/"+campaignID+"/?match[version]=all", usTok, stix.TAXIIMedia)
	bl, _ := both.body["objects"].([]any)
	if len(bl) != 2 || bl[0].(map[string]any)["created"] != bl[1].(map[string]any)["created"] || bl[0].(map[string]any)["modified"] == bl[1].(map[string]any)["modified"] ||
		bl[1].(map[string]any)["modified"] != versions[1] {
		t.Errorf("the campaign's versions: %s", both.raw)
	}
	one := taxiiGet(t, usCol+"objects/"+campaignID+"/", usTok, stix.TAXIIMedia)
	if ol, _ := one.body["objects"].([]any); len(ol) != 1 || ol[0].(map[string]any)["modified"] != versions[1] {
		t.Errorf("the campaign, latest: %s", one.raw)
	}
	if r := taxiiGet(t, usCol+"objects/campaign--00000000-0000-4000-8000-000000000000/", usTok, stix.TAXIIMedia); r.status != 404 {
		t.Errorf("an unknown object: %d", r.status)
	}
	// Filters.
	camps := taxiiGet(t, usCol+"objects/?match[type]=campaign,report", usTok, stix.TAXIIMedia)
	cl, _ := camps.body["objects"].([]any)
	ct := map[string]int{}
	for _, o := range cl {
		ct[o.(map[string]any)["type"].(string)]++
	}
	if len(ct) != 2 || ct["campaign"] != 2 || ct["report"] != 8 { // the US campaign and, now, the Chinese one
		t.Errorf("match[type]=campaign,report: %v", ct)
	}
	// Statistics are counted over the agreement's origins: the wider
	// agreement's are another object, the ones of US alone left — revoked.
	if byID := taxiiGet(t, usCol+"objects/?match[id]="+statsID, usTok, stix.TAXIIMedia); !revokedOnly(byID) {
		t.Errorf("match[id] of the statistics of US alone, after the agreement widened to CN: %s", byID.raw)
	}
	stats := taxiiGet(t, usCol+"objects/?match[type]="+stix.StatsType, usTok, stix.TAXIIMedia)
	var live []map[string]any
	sl, _ := stats.body["objects"].([]any)
	for _, o := range sl {
		if o.(map[string]any)["revoked"] != true {
			live = append(live, o.(map[string]any))
		}
	}
	if len(sl) != 2 || len(live) != 1 || live[0]["id"] == statsID {
		t.Errorf("the statistics of US and CN: %s", stats.raw)
	} else if byID := taxiiGet(t, usCol+"objects/?match[id]="+live[0]["id"].(string), usTok, stix.TAXIIMedia); len(byID.body["objects"].([]any)) != 1 {
		t.Errorf("match[id]: %s", byID.raw)
	}
	if r := taxiiGet(t, usCol+"objects/?match[spec_version]=2.0", usTok, stix.TAXIIMedia); r.body["objects"] != nil {
		t.Errorf("match[spec_version]=2.0: %s", r.raw)
	}
	if r := taxiiGet(t, usCol+"objects/?limit=0", usTok, stix.TAXIIMedia); r.status != 400 {
		t.Errorf("limit=0: %d", r.status)
	}
	// The manifest: one entry per object, its version its modified, date_added in microseconds.
	mf := taxiiGet(t, usCol+"manifest/?match[id]="+campaignID, usTok, stix.TAXIIMedia)
	if ml, _ := mf.body["objects"].([]any); len(ml) != 1 || ml[0].(map[string]any)["version"] != versions[1] ||
		!regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`).MatchString(ml[0].(map[string]any)["date_added"].(string)) {
		t.Errorf("manifest: %s", mf.raw)
	}

	// FR rotates its key: the collection and object ids do not change.
	first, _ = poll(t, usCol, usTok, "", 100)
	_, priv, _ := ed25519.GenerateKey(nil)
	fr.svc.Key = priv
	if err := fr.svc.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if id := collectionOf(t, fr, "us"); id != usID {
		t.Errorf("the collection id changed with the key: %s → %s", usID, id)
	}
	after, _ := poll(t, usCol, usTok, "", 100)
	afterIDs := map[string]bool{}
	for _, o := range after {
		afterIDs[o["id"].(string)] = true
	}
	for _, o := range first {
		if !afterIDs[o["id"].(string)] {
			t.Errorf("%s is gone after the key rotation", o["id"])
		}
	}

	// US's reads are logged: they enter the custody log with the next
	// envelope, and both ends agree.
	reads, err := fr.store.UnloggedReads(ctx, "us")
	if err != nil || len(reads) < 5 {
		t.Fatalf("reads recorded: %d %v", len(reads), err)
	}
	us.store.AddPeerKey(ctx, "fr", base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), c.Now())
	res, err := fr.svc.Sync(ctx, "us")
	if err != nil || res.Reads != len(reads) {
		t.Fatalf("the reads went with %v %v", res, err)
	}
	inLog, _ := us.store.Log(ctx, "fr", federation.In)
	n := 0
	for _, e := range inLog {
		if e.What == "read" {
			n++
		}
	}
	a, _ := fr.svc.VerifyCustody(ctx, "us")
	b, _ := us.svc.VerifyCustody(ctx, "fr")
	if n != len(reads) || len(a.Problems)+len(b.Problems) > 0 || a.Out.Root != b.In.Root {
		t.Errorf("%d reads in US's log of the link; custody %v %v", n, a.Problems, b.Problems)
	}

	// Narrowing revokes what no longer flows: it is served revoked only.
	setAgreement(t, fr, "us", strings.Replace(strings.Replace(frUSTAXII, `"campaigns", "reports", `, "", 1), "version = 1", "version = 3", 1))
	left, _ := poll(t, usCol, usTok, "", 100)
	for _, o := range left {
		if (o["type"] == "campaign" || o["type"] == "report") && o["revoked"] != true {
			t.Errorf("a %s is still served, not revoked, after the agreement stopped it", o["type"])
		}
	}
	if r := taxiiGet(t, usCol+"objects/"+campaignID+"/", usTok, stix.TAXIIMedia); !revokedOnly(r) {
		t.Errorf("a campaign that left the collection: %d %s", r.status, r.raw)
	}
	// AU's collection: indicators only, at TLP:GREEN or below.
	auObjs, _ := poll(t, srv+"/taxii2/api/collections/"+collectionOf(t, fr, "au")+"/", auTok, "", 1000)
	auJSON, _ := json.Marshal(auObjs)
	for _, o := range auObjs {
		switch typ := o["type"]; typ {
		case "campaign", "report", stix.StatsType:
			t.Errorf("AU's feed carries a %s", typ)
		}
	}
	if !strings.Contains(string(auJSON), "202.96.128.1") || strings.Contains(string(auJSON), "marking-definition--55d920b0") {
		t.Errorf("AU's feed: %s", auJSON)
	}
}

const frUSTAXII = `id = "FR-US-TAXII"
version = 1
audience = ["us"]
share = ["indicators", "campaigns", "reports", "statistics"]
tlp_max = "amber"
origins = ["US"]
min_aggregate = 5
`

// TestTAXIIAllVersionsOnceAfterNarrowThenWiden is the attack review's
// narrow-then-widen: objects that left US's collection (another origin,
// then statistics) and came back are in its added-log twice with the same
// version. match[version]=all, on the objects and on the manifest, paged
// or not, and an object's versions, name each (id, version) once — with
// the date it last entered the collection.
func TestTAXIIAllVersionsOnceAfterNarrowThenWiden(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	wide := strings.Replace(frUSTAXII, `origins = ["US"]`, `origins = ["*"]`, 1)
	fr.know(t, us, "US", wide)
	for i := 0; i < 6; i++ {
		fr.file(t, spam(fmt.Sprintf("12.0.0.%d", i+1), "deals@pharma-mailer.example", "Cheap meds", pharma, i), "a@example.fr")
		fr.file(t, spam("202.96.128.1", "win@lotto-cn.example", "You won", lottery, 10+i), "b@example.fr")
		c.Add(time.Minute)
	}
	_, srv := taxiiServer(t, fr, c)
	usTok := token(t, fr, access.Peer, "us")
	usCol := srv + "/taxii2/api/collections/" + collectionOf(t, fr, "us") + "/"
	before, _ := poll(t, usCol, usTok, "", 50)
	// Narrowed to US origins, then without statistics, then wide again.
	for v, text := range []string{
		strings.Replace(wide, `origins = ["*"]`, `origins = ["US"]`, 1),
		strings.Replace(frUSTAXII, `, "statistics"]`, `]`, 1),
		wide,
	} {
		c.Add(time.Minute)
		setAgreement(t, fr, "us", strings.Replace(text, "version = 1", fmt.Sprintf("version = %d", v+2), 1))
		poll(t, usCol, usTok, "", 50)
	}
	now, _ := poll(t, usCol, usTok, "", 50)
	live := 0
	for _, o := range now {
		if o["revoked"] != true {
			live++
		}
	}
	// The statistics of US origins alone left for good: revoked.
	if live != len(before) || len(now) != len(before)+1 {
		t.Fatalf("after narrowing then widening the collection holds %d objects (%d not revoked), %d before", len(now), live, len(before))
	}
	// Every version, page by page (objects and manifest), and whole.
	pages := func(endpoint string, limit int) map[string]int {
		t.Helper()
		seen := map[string]int{}
		next := ""
		for {
			u := fmt.Sprintf("%s%s?match[version]=all&limit=%d", usCol, endpoint, limit)
			if next != "" {
				u += "&next=" + next
			}
			r := taxiiGet(t, u, usTok, stix.TAXIIMedia)
			if r.status != 200 {
				t.Fatalf("%s: %d %s", u, r.status, r.raw)
			}
			list, _ := r.body["objects"].([]any)
			for _, o := range list {
				m := o.(map[string]any)
				v := m["version"]
				if endpoint == "objects/" {
					v = m["modified"]
					if v == nil {
						v = m["created"] // SCOs, identity without modified.
					}
				}
				seen[fmt.Sprint(m["id"], " ", v)]++
			}
			if r.body["more"] != true {
				return seen
			}
			next = r.body["next"].(string)
		}
	}
	repeated := 0
	for _, ep := range []string{"objects/", "manifest/"} {
		for _, limit := range []int{7, 1000} {
			seen := pages(ep, limit)
			if len(seen) < len(now) {
				t.Errorf("%s match[version]=all limit=%d: %d versions for %d objects", ep, limit, len(seen), len(now))
			}
			for k, n := range seen {
				if n > 1 {
					repeated++
					t.Errorf("%s match[version]=all limit=%d: %s served %d times", ep, limit, k, n)
				}
			}
		}
	}
	for _, o := range now {
		id := o["id"].(string)
		vs := taxiiGet(t, usCol+"objects/"+id+"/versions/", usTok, stix.TAXIIMedia)
		list, _ := vs.body["versions"].([]any)
		seen := map[any]bool{}
		for _, v := range list {
			if seen[v] {
				t.Errorf("the versions of %s name %v twice: %s", id, v, vs.raw)
			}
			seen[v] = true
		}
		if first := taxiiGet(t, usCol+"objects/"+id+"/?match[version]=first", usTok, stix.TAXIIMedia); len(first.body["objects"].([]any)) != 1 {
			t.Errorf("the first version of %s: %s", id, first.raw)
		}
	}
	if testing.Verbose() {
		t.Logf("%d objects, %d repeated versions", len(now), repeated)
	}
}

// TestTAXIIPollerStartedWhileNarrowGetsEveryReturningVersion is the attack
// review's poller that started while the agreement was narrow: objects
// that left the collection (another origin) come back when it widens, and
// every version of them is served again under match[version]=all. Each
// must come with the date it came back: a client polling with added_after
// from when the collection was narrow got the current versions only and
// never the older ones, which kept the date they first entered. Polling
// on, it gets nothing twice.
func TestTAXIIPollerStartedWhileNarrowGetsEveryReturningVersion(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	wide := strings.Replace(frUSTAXII, `origins = ["US"]`, `origins = ["*"]`, 1)
	fr.know(t, us, "US", wide)
	_, srv := taxiiServer(t, fr, c)
	usTok := token(t, fr, access.Peer, "us")
	usCol := srv + "/taxii2/api/collections/" + collectionOf(t, fr, "us") + "/"
	// Two rounds of both spam runs, read between them: the campaigns,
	// their statistics and indicators have two versions each.
	for round := 0; round < 2; round++ {
		for i := 0; i < 3; i++ {
			fr.file(t, spam(fmt.Sprintf("12.0.0.%d", round*3+i+1), "deals@pharma-mailer.example", "Cheap meds", pharma, round*3+i), "a@example.fr")
			fr.file(t, spam("202.96.128.1", "win@lotto-cn.example", "You won", lottery, 10+round*3+i), "b@example.fr")
			c.Add(time.Minute)
		}
		poll(t, usCol, usTok, "", 50)
	}
	// pollAll reads every version added after "after", five a page, and
	// returns them by (id, version) with the last date_added.
	pollAll := func(after string) (map[string]int, string) {
		t.Helper()
		got, next, last := map[string]int{}, "", after
		for {
			u := usCol + "manifest/?match[version]=all&limit=5"
			if after != "" {
				u += "&added_after=" + after
			}
			if next != "" {
				u += "&next=" + next
			}
			r := taxiiGet(t, u, usTok, stix.TAXIIMedia)
			if r.status != 200 {
				t.Fatalf("%s: %d %s", u, r.status, r.raw)
			}
			list, _ := r.body["objects"].([]any)
			for _, o := range list {
				m := o.(map[string]any)
				got[fmt.Sprint(m["id"], " ", m["version"])]++
			}
			if l := r.header.Get("X-TAXII-Date-Added-Last"); l != "" {
				last = l
			}
			if r.body["more"] != true {
				return got, last
			}
			next = r.body["next"].(string)
		}
	}
	all, _ := pollAll("")
	// Narrowed to US origins: the lottery run leaves. A new client starts
	// polling now.
	c.Add(time.Minute)
	setAgreement(t, fr, "us", strings.Replace(frUSTAXII, "version = 1", "version = 2", 1))
	seen, mark := pollAll("")
	if len(seen) >= len(all) {
		t.Fatalf("narrowed, the collection still serves %d versions of %d", len(seen), len(all))
	}
	// Widened again: everything is back, and the client, polling from its
	// mark, gets each version it had not seen — once.
	c.Add(time.Minute)
	setAgreement(t, fr, "us", strings.Replace(wide, "version = 1", "version = 3", 1))
	now, _ := pollAll("")
	for k := range all {
		if now[k] == 0 {
			t.Errorf("widened again, the collection no longer serves %s", k)
		}
	}
	got, mark2 := pollAll(mark)
	missed := 0
	for k := range now {
		if seen[k] == 0 && got[k] == 0 {
			missed++
			if missed <= 5 {
				t.Errorf("polling from %s after the widening: %s is served but never delivered", mark, k)
			}
		}
	}
	for k, n := range got {
		if seen[k] > 0 || n > 1 {
			t.Errorf("polling from %s after the widening: %s delivered again (%d times here, %d before)", mark, k, n, seen[k])
		}
	}
	if missed > 0 {
		t.Errorf("%d of %d versions never delivered to the client that started while narrowed", missed, len(now))
	}
	if again, _ := pollAll(mark2); len(again) != 0 {
		t.Errorf("polling on from %s: %d versions delivered again", mark2, len(again))
	}
}

// slowTokens holds the lookups of one token until release is closed:
// the requests it holds are in progress.
type slowTokens struct {
	access.Store
	hold    string
	started chan struct{}
	release chan struct{}
}

func (s slowTokens) TokenByHash(ctx context.Context, hash string) (access.Token, error) {
	if hash == s.hold {
		s.started <- struct{}{}
		<-s.release
	}
	return s.Store.TokenByHash(ctx, hash)
}

// TestTAXIIBoundsRequestsPerToken: a token with PerToken requests in
// progress gets 429 with Retry-After for one more, while another token
// is served; once they are answered it is served again. Nothing bounded
// a partner's parallel pages before (tenth review, finding 6).
func TestTAXIIBoundsRequestsPerToken(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us, au := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US"), newNode(t, c, "au", "AU")
	fr.know(t, us, "US", frUSTAXII)
	fr.know(t, au, "AU", frAU)
	tx, _ := taxiiServer(t, fr, c)
	usTok, auTok := token(t, fr, access.Peer, "us"), token(t, fr, access.Peer, "au")
	slow := slowTokens{Store: tx.Tokens, hold: access.Hash(usTok), started: make(chan struct{}, 8), release: make(chan struct{})}
	held := *tx
	held.Tokens = slow
	srv := httptest.NewServer(held.Handler())
	defer srv.Close()
	done := make(chan int, stix.DefaultPerToken)
	for range stix.DefaultPerToken {
		go func() {
			req, _ := http.NewRequest("GET", srv.URL+"/taxii2/", nil)
			req.Header.Set("Authorization", "Bearer "+usTok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				done <- 0
				return
			}
			res.Body.Close()
			done <- res.StatusCode
		}()
		<-slow.started
	}
	// One more: answered at once, not held with the others (a client
	// that waits long means it was let in; its lookup would hold it).
	req, _ := http.NewRequest("GET", srv.URL+"/taxii2/", nil)
	req.Header.Set("Authorization", "Bearer "+usTok)
	res, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		close(slow.release)
		t.Fatalf("one more request of a token with %d in progress was let in: %v", stix.DefaultPerToken, err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !strings.Contains(string(raw), `"http_status":"429"`) {
		t.Errorf("one more request of a token with %d in progress: %d, Retry-After %q, %s", stix.DefaultPerToken, res.StatusCode, res.Header.Get("Retry-After"), raw)
	}
	// Another token is not held back by this one.
	if r := taxiiGet(t, srv.URL+"/taxii2/", auTok, stix.TAXIIMedia); r.status != 200 {
		t.Errorf("another token while the first is at its bound: %d %s", r.status, r.raw)
	}
	close(slow.release)
	for range stix.DefaultPerToken {
		if s := <-done; s != 200 {
			t.Errorf("a request in progress answered %d", s)
		}
	}
	if r := taxiiGet(t, srv.URL+"/taxii2/", usTok, stix.TAXIIMedia); r.status != 200 {
		t.Errorf("the token once its requests were answered: %d %s", r.status, r.raw)
	}
}

// TestTAXIIRevokesWhatLeaves polls as a TAXII client does, from the last
// X-TAXII-Date-Added-Last. When the agreement narrows (campaigns and
// reports stop), the next poll returns each campaign and report once as
// a new version — same id and created, a later modified, "revoked": true
// — listed by versions/ and the manifest; the relationship and indicator
// of an indicator that stops are revoked too. Polling on returns nothing.
// When the agreement widens again, each comes back once as a new version,
// not revoked, after the revoked one. Before revocation the client got
// {"more":false} and kept the objects for ever.
func TestTAXIIRevokesWhatLeaves(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	wide := strings.Replace(frUSTAXII, `origins = ["US"]`, `origins = ["*"]`, 1)
	fr.know(t, us, "US", wide)
	for i := 0; i < 6; i++ {
		fr.file(t, spam(fmt.Sprintf("12.0.0.%d", i+1), "deals@pharma-mailer.example", "Cheap meds", pharma, i), "a@example.fr")
		fr.file(t, spam("202.96.128.1", "win@lotto-cn.example", "You won", lottery, 10+i), "b@example.fr")
		c.Add(time.Minute)
	}
	_, srv := taxiiServer(t, fr, c)
	usTok := token(t, fr, access.Peer, "us")
	usCol := srv + "/taxii2/api/collections/" + collectionOf(t, fr, "us") + "/"
	before, mark := poll(t, usCol, usTok, "", 50)
	held := map[string]map[string]any{}
	for _, o := range before {
		held[o["id"].(string)] = o
	}

	// Narrowed to US origins: the lottery run (CN) leaves.
	c.Add(time.Minute)
	setAgreement(t, fr, "us", strings.Replace(frUSTAXII, "version = 1", "version = 2", 1))
	got, mark2 := poll(t, usCol, usTok, mark, 3)
	revoked := map[string]map[string]any{}
	for _, o := range got {
		id := o["id"].(string)
		if o["revoked"] != true {
			continue
		}
		if revoked[id] != nil {
			t.Errorf("%s revoked twice in one poll", id)
		}
		revoked[id] = o
		old := held[id]
		if old == nil || o["created"] != old["created"] || o["modified"].(string) <= old["modified"].(string) {
			t.Errorf("the revoked %s is not a later version of the one held: %v, held %v", id, o, old)
		}
	}
	types := map[string]int{}
	for _, o := range revoked {
		types[o["type"].(string)]++
	}
	if types["campaign"] != 1 || types["report"] != 6 || types["indicator"] == 0 || types["relationship"] != types["indicator"] {
		t.Fatalf("narrowed, one poll revoked %v", types)
	}
	gotJSON, _ := json.Marshal(got)
	if strings.Contains(string(gotJSON), "You won") || strings.Contains(string(gotJSON), `"value":"202.96.128.1"`) {
		t.Errorf("the revoked versions say again what left: %s", gotJSON)
	}
	for id := range revoked {
		vs := taxiiGet(t, usCol+"objects/"+id+"/versions/", usTok, stix.TAXIIMedia)
		if list, _ := vs.body["versions"].([]any); len(list) != 1 || list[0] != revoked[id]["modified"] {
			t.Errorf("versions of the revoked %s: %s", id, vs.raw)
		}
		mf := taxiiGet(t, usCol+"manifest/?match[id]="+id, usTok, stix.TAXIIMedia)
		if ml, _ := mf.body["objects"].([]any); len(ml) != 1 || ml[0].(map[string]any)["version"] != revoked[id]["modified"] {
			t.Errorf("manifest of the revoked %s: %s", id, mf.raw)
		}
	}
	if again, _ := poll(t, usCol, usTok, mark2, 50); len(again) != 0 {
		t.Errorf("polling on after the revocations: %d objects again", len(again))
	}
	// Nothing the US run needs was revoked.
	for id, o := range held {
		if revoked[id] != nil && strings.Contains(fmt.Sprint(o), "Cheap meds") {
			t.Errorf("%s of the US run was revoked", id)
		}
	}

	// Widened again: each revoked object comes back once, a new version
	// after the revoked one, not revoked.
	c.Add(time.Minute)
	setAgreement(t, fr, "us", strings.Replace(wide, "version = 1", "version = 3", 1))
	back, _ := poll(t, usCol, usTok, mark2, 4)
	seen := map[string]int{}
	for _, o := range back {
		id := o["id"].(string)
		if r := revoked[id]; r != nil {
			seen[id]++
			if o["revoked"] == true || o["created"] != r["created"] || o["modified"].(string) <= r["modified"].(string) {
				t.Errorf("%s came back as %v after %v", id, o, r)
			}
		}
	}
	for id := range revoked {
		if seen[id] != 1 {
			t.Errorf("revoked %s came back %d times", id, seen[id])
		}
	}
	if !strings.Contains(fmt.Sprint(back), "You won") {
		t.Errorf("the widened poll does not carry the lottery run's content again")
	}
}
