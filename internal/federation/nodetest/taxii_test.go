package nodetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/accord-antispam/accord/internal/access"
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
func bundleSchema(t *testing.T) *jsonschema.Schema {
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

func TestTAXIIServesEachPeerItsAgreement(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us, au := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US"), newNode(t, c, "au", "AU")
	fr.know(t, us, "US", frUS)
	fr.know(t, au, "AU", frAU)
	for i := 0; i < 3; i++ {
		fr.file(t, spam(fmt.Sprintf("12.0.0.%d", i+1), "deals@pharma-us.example", "Cheap meds", pharma, i), "a@example.fr")
		c.Add(time.Minute)
	}
	fr.file(t, spam("202.96.128.1", "win@lotto-cn.example", "You won", lottery, 10), "b@example.fr")
	tx := &stix.TAXII{Fed: fr.svc, Tokens: fr.store, Mapper: &stix.Mapper{NodeKey: fr.pub, NodeName: "FR authority", Created: c.Now()}, Title: "FR"}
	mux := http.NewServeMux()
	mux.Handle(stix.Prefix, tx.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	usTok, auTok, authTok := token(t, fr, access.Peer, "us"), token(t, fr, access.Peer, "au"), token(t, fr, access.Authority, "ana")
	reporterTok := token(t, fr, access.Reporter, "r")

	if r := taxiiGet(t, srv.URL+"/taxii2/", "", stix.TAXIIMedia); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous discovery: %d", r.status)
	}
	if r := taxiiGet(t, srv.URL+"/taxii2/", reporterTok, stix.TAXIIMedia); r.status != 401 {
		t.Errorf("a reporter token: %d", r.status)
	}
	if r := taxiiGet(t, srv.URL+"/taxii2/", usTok, "text/html"); r.status != 406 {
		t.Errorf("wrong Accept: %d", r.status)
	}
	d := taxiiGet(t, srv.URL+"/taxii2/", usTok, stix.TAXIIMedia)
	if d.status != 200 || d.header.Get("Content-Type") != stix.TAXIIMedia || !strings.HasSuffix(d.body["default"].(string), "/taxii2/api/") {
		t.Fatalf("discovery: %d %s", d.status, d.raw)
	}
	// With the node's public URL set, discovery links are built on it, not
	// on a Host header the client chose.
	pub := *tx
	pub.PublicURL = "https://fr.example.org/"
	pmux := http.NewServeMux()
	pmux.Handle(stix.Prefix, pub.Handler())
	psrv := httptest.NewServer(pmux)
	defer psrv.Close()
	req, _ := http.NewRequest("GET", psrv.URL+"/taxii2/", nil)
	req.Host = "evil.example"
	req.Header.Set("Authorization", "Bearer "+usTok)
	req.Header.Set("Accept", stix.TAXIIMedia)
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		var m map[string]any
		json.NewDecoder(res.Body).Decode(&m)
		res.Body.Close()
		if m["default"] != "https://fr.example.org/taxii2/api/" {
			t.Errorf("discovery with a forged Host names %v", m["default"])
		}
	}
	root := taxiiGet(t, srv.URL+"/taxii2/api/", usTok, stix.TAXIIMedia)
	if root.status != 200 || !strings.Contains(string(root.raw), "application/taxii+json;version=2.1") {
		t.Fatalf("api root: %s", root.raw)
	}
	cols := taxiiGet(t, srv.URL+"/taxii2/api/collections/", usTok, stix.TAXIIMedia)
	list := cols.body["collections"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != tx.CollectionID("us") || list[0].(map[string]any)["can_write"] != false {
		t.Fatalf("US sees collections %s", cols.raw)
	}
	if all := taxiiGet(t, srv.URL+"/taxii2/api/collections/", authTok, stix.TAXIIMedia); len(all.body["collections"].([]any)) != 2 {
		t.Errorf("the authority sees %s", all.raw)
	}
	// AU asks for US's collection: refused, and nothing of it shows.
	usCol := srv.URL + "/taxii2/api/collections/" + tx.CollectionID("us") + "/"
	for _, p := range []string{"", "objects/", "manifest/"} {
		if r := taxiiGet(t, usCol+p, auTok, stix.TAXIIMedia); r.status != 403 || strings.Contains(string(r.raw), "pharma") {
			t.Errorf("AU reading US's collection %q: %d %s", p, r.status, r.raw)
		}
	}
	if r := taxiiGet(t, srv.URL+"/taxii2/api/collections/not-a-collection/objects/", authTok, stix.TAXIIMedia); r.status != 403 {
		t.Errorf("unknown collection: %d", r.status)
	}

	// US's objects: page by page, all of them valid STIX, none of Chinese origin.
	schema := bundleSchema(t)
	var objects []any
	next := ""
	pages := 0
	for {
		u := usCol + "objects/?limit=7"
		if next != "" {
			u += "&next=" + next
		}
		r := taxiiGet(t, u, usTok, stix.TAXIIMedia)
		if r.status != 200 || r.header.Get("X-TAXII-Date-Added-First") == "" {
			t.Fatalf("objects page: %d %s", r.status, r.raw)
		}
		page := r.body["objects"].([]any)
		bundle, _ := json.Marshal(map[string]any{"type": "bundle", "id": "bundle--6b1b3e2a-3d7e-4b6a-9a6c-2f1d0e8c7b5a", "objects": page})
		doc, _ := jsonschema.UnmarshalJSON(bytes.NewReader(bundle))
		if err := schema.Validate(doc); err != nil {
			t.Fatalf("page %d is not valid STIX 2.1: %v", pages, err)
		}
		for _, o := range page {
			typ := o.(map[string]any)["type"]
			if typ != "identity" && typ != "marking-definition" {
				objects = append(objects, o)
			}
		}
		pages++
		if r.body["more"] != true {
			break
		}
		next = r.body["next"].(string)
	}
	all, _ := json.Marshal(objects)
	if pages < 2 || strings.Contains(string(all), "202.96.128") || strings.Contains(string(all), "lotto-cn") || !strings.Contains(string(all), "12.0.0.1") {
		t.Fatalf("%d pages; objects: %s", pages, all)
	}
	if !strings.Contains(string(all), `"type":"campaign"`) || !strings.Contains(string(all), `"type":"report"`) {
		t.Errorf("US's feed lacks the campaign or reports: %s", all)
	}
	// added_after: only what is newer.
	late := taxiiGet(t, usCol+"objects/?added_after="+c.Now().Add(-90*time.Second).Format(time.RFC3339), usTok, stix.TAXIIMedia)
	n := 0
	for _, o := range late.body["objects"].([]any) {
		if typ := o.(map[string]any)["type"]; typ != "identity" && typ != "marking-definition" {
			n++
		}
	}
	if n == 0 || n >= len(objects) {
		t.Errorf("added_after kept %d of %d objects", n, len(objects))
	}
	// AU's collection: indicators only, at TLP:GREEN or below.
	auObjs := taxiiGet(t, srv.URL+"/taxii2/api/collections/"+tx.CollectionID("au")+"/objects/?limit=1000", auTok, stix.TAXIIMedia)
	for _, o := range auObjs.body["objects"].([]any) {
		switch typ := o.(map[string]any)["type"]; typ {
		case "campaign", "report":
			t.Errorf("AU's feed carries a %s", typ)
		}
	}
	if !strings.Contains(string(auObjs.raw), "202.96.128.1") || strings.Contains(string(auObjs.raw), "marking-definition--55d920b0") {
		t.Errorf("AU's feed: %s", auObjs.raw)
	}
	manifest := taxiiGet(t, usCol+"manifest/?limit=1000", usTok, stix.TAXIIMedia)
	if ms := manifest.body["objects"].([]any); len(ms) != len(objects) {
		t.Errorf("manifest lists %d, objects %d", len(ms), len(objects))
	}
	if r := taxiiGet(t, usCol+"objects/?limit=0", usTok, stix.TAXIIMedia); r.status != 400 {
		t.Errorf("limit=0: %d", r.status)
	}
}
