package stix

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/federation"
)

// Media types of TAXII 2.1.
const (
	TAXIIMedia = "application/taxii+json;version=2.1"
	STIXMedia  = "application/stix+json;version=2.1"
)

// TAXII is the read-only TAXII 2.1 server of a node: discovery at
// /taxii2/, one API root, and a collection per peer whose objects are what
// that peer's agreement allows, mapped to STIX. A peer's token reads its
// own collection only; authority and admin tokens read every collection
// (to check what a peer sees).
type TAXII struct {
	Fed    *federation.Service
	Tokens access.Store
	Mapper *Mapper
	Title  string
	// PublicURL is the node's public base (https://desk.example.org): the
	// discovery links are built on it, never on the request's Host
	// header. Empty: the request's scheme and Host (tests).
	PublicURL string
}

// Prefix is where the server is mounted.
const Prefix = "/taxii2/"

// CollectionID is a peer's collection id.
func (t *TAXII) CollectionID(peer string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte("accord:"+t.Mapper.NodeKey+":collection:"+peer)).String()
}

type taxiiError struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	HTTPStatus  string `json:"http_status"`
}

func writeTAXII(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", TAXIIMedia)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, title, desc string) {
	writeTAXII(w, status, taxiiError{Title: title, Description: desc, HTTPStatus: strconv.Itoa(status)})
}

// client is who asks: a peer (its name) or an authority (all).
type client struct {
	peer string
	all  bool
}

func (t *TAXII) authenticate(r *http.Request) (client, bool) {
	var secret string
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		secret = strings.TrimSpace(h[len("Bearer "):])
	} else if _, pw, ok := r.BasicAuth(); ok {
		secret = pw // Basic: any user name, the token as password
	}
	if secret == "" {
		return client{}, false
	}
	tok, err := t.Tokens.TokenByHash(r.Context(), access.Hash(secret))
	if err != nil {
		return client{}, false
	}
	switch {
	case tok.Role == access.Peer:
		return client{peer: tok.Label}, true
	case tok.Role.AtLeast(access.Authority):
		return client{all: true}, true
	}
	return client{}, false
}

func acceptable(r *http.Request) bool {
	a := r.Header.Get("Accept")
	if a == "" || strings.Contains(a, "*/*") {
		return true
	}
	a = strings.ReplaceAll(strings.ToLower(a), " ", "")
	return strings.Contains(a, "application/taxii+json") || strings.Contains(a, "application/stix+json") || strings.Contains(a, "application/json")
}

// Handler serves the TAXII API.
func (t *TAXII) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			fail(w, http.StatusMethodNotAllowed, "read-only", "this TAXII server serves collections for reading only")
			return
		}
		if !acceptable(r) {
			fail(w, http.StatusNotAcceptable, "not acceptable", "ask for "+TAXIIMedia)
			return
		}
		c, ok := t.authenticate(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="accord-taxii", Basic realm="accord-taxii"`)
			fail(w, http.StatusUnauthorized, "authentication required", "use the token from `accord peer token NAME` as a Bearer token or as the Basic password")
			return
		}
		path := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(Prefix, "/"))
		parts := strings.Split(strings.Trim(path, "/"), "/")
		base := scheme(r) + "://" + r.Host + Prefix
		if t.PublicURL != "" {
			base = strings.TrimRight(t.PublicURL, "/") + Prefix
		}
		switch {
		case path == "/" || path == "":
			writeTAXII(w, http.StatusOK, map[string]any{"title": t.Title, "description": "Spam indicators and campaigns shared under agreements",
				"default": base + "api/", "api_roots": []string{base + "api/"}})
		case len(parts) == 1 && parts[0] == "api":
			writeTAXII(w, http.StatusOK, map[string]any{"title": t.Title + " API root", "versions": []string{TAXIIMedia}, "max_content_length": 0})
		case len(parts) == 2 && parts[0] == "api" && parts[1] == "collections":
			cols, err := t.collections(r.Context(), c)
			if err != nil {
				fail(w, http.StatusInternalServerError, "internal error", err.Error())
				return
			}
			writeTAXII(w, http.StatusOK, map[string]any{"collections": cols})
		case len(parts) >= 3 && parts[0] == "api" && parts[1] == "collections":
			peer, col, err := t.collection(r.Context(), c, parts[2])
			if err != nil {
				var he httpError
				if errors.As(err, &he) {
					fail(w, he.status, he.title, he.Error())
					return
				}
				fail(w, http.StatusInternalServerError, "internal error", err.Error())
				return
			}
			switch {
			case len(parts) == 3:
				writeTAXII(w, http.StatusOK, col)
			case len(parts) == 4 && (parts[3] == "objects" || parts[3] == "manifest"):
				t.objects(w, r, peer, parts[3] == "manifest")
			default:
				fail(w, http.StatusNotFound, "not found", "")
			}
		default:
			fail(w, http.StatusNotFound, "not found", "")
		}
	})
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

type httpError struct {
	status int
	title  string
	msg    string
}

func (e httpError) Error() string { return e.msg }

func (t *TAXII) collections(ctx context.Context, c client) ([]map[string]any, error) {
	peers, err := t.Fed.Store.Peers(ctx)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, p := range peers {
		if p.Status != federation.StatusActive || !(c.all || c.peer == p.Name) {
			continue
		}
		out = append(out, t.describe(p.Name))
	}
	return out, nil
}

func (t *TAXII) describe(peer string) map[string]any {
	return map[string]any{"id": t.CollectionID(peer), "title": "Shared with " + peer,
		"description": "What the agreement with " + peer + " allows: indicators, campaigns and reports, as STIX 2.1",
		"can_read":    true, "can_write": false, "media_types": []string{STIXMedia}}
}

// collection resolves a collection id for a client. A collection the
// client may not read is refused with 403, whether it exists or not.
func (t *TAXII) collection(ctx context.Context, c client, id string) (string, map[string]any, error) {
	peers, err := t.Fed.Store.Peers(ctx)
	if err != nil {
		return "", nil, err
	}
	for _, p := range peers {
		if t.CollectionID(p.Name) != id || p.Status != federation.StatusActive {
			continue
		}
		if !c.all && c.peer != p.Name {
			break
		}
		return p.Name, t.describe(p.Name), nil
	}
	return "", nil, httpError{http.StatusForbidden, "forbidden", "this client may not read collection " + id}
}

// objects serves a collection's objects (or their manifest), oldest
// first, with added_after and limit/next pagination.
func (t *TAXII) objects(w http.ResponseWriter, r *http.Request, peer string, manifest bool) {
	q := r.URL.Query()
	var after time.Time
	if s := q.Get("added_after"); s != "" {
		var err error
		if after, err = time.Parse(time.RFC3339Nano, s); err != nil {
			fail(w, http.StatusBadRequest, "bad added_after", "want an RFC 3339 timestamp")
			return
		}
	}
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fail(w, http.StatusBadRequest, "bad limit", "want a positive number")
			return
		}
		limit = min(n, 1000)
	}
	offset := 0
	if s := q.Get("next"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			fail(w, http.StatusBadRequest, "bad next", "")
			return
		}
		offset = n
	}
	lines, err := t.Fed.Preview(r.Context(), peer, nil)
	if err != nil {
		fail(w, http.StatusInternalServerError, "internal error", err.Error())
		return
	}
	type entry struct {
		added time.Time
		obj   map[string]any
	}
	var es []entry
	for _, l := range lines {
		if !l.Decision.Allow || l.Item.Updated.IsZero() || !l.Item.Updated.After(after) {
			continue
		}
		objs, err := t.Mapper.Objects(l.Item)
		if err != nil {
			fail(w, http.StatusInternalServerError, "internal error", err.Error())
			return
		}
		for _, o := range objs {
			es = append(es, entry{l.Item.Updated, o})
		}
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].added.Before(es[j].added) })
	if offset > len(es) {
		offset = len(es)
	}
	page := es[offset:min(len(es), offset+limit)]
	more := offset+limit < len(es)
	if len(page) > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", stamp(page[0].added))
		w.Header().Set("X-TAXII-Date-Added-Last", stamp(page[len(page)-1].added))
	}
	body := map[string]any{"more": more}
	if more {
		body["next"] = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset + limit)))
	}
	if manifest {
		var ms []map[string]any
		for _, e := range page {
			ms = append(ms, map[string]any{"id": e.obj["id"], "date_added": stamp(e.added), "version": versionOf(e.obj, e.added), "media_type": STIXMedia})
		}
		body["objects"] = ms
		writeTAXII(w, http.StatusOK, body)
		return
	}
	objs := []map[string]any{}
	used := map[string]bool{}
	for _, e := range page {
		objs = append(objs, e.obj)
		if refs, ok := e.obj["object_marking_refs"].([]string); ok {
			for _, r := range refs {
				used[r] = true
			}
		}
	}
	// The marking definitions and the node's identity come with every
	// page, so a page is readable on its own.
	var extra []any
	extra = append(extra, t.Mapper.Identity())
	for _, level := range []federation.TLP{federation.TLPClear, federation.TLPGreen, federation.TLPAmber, federation.TLPAmberStrict, federation.TLPRed} {
		raw, id, err := Marking(level)
		if err == nil && used[id] {
			extra = append(extra, raw)
		}
	}
	all := append(extra, anySlice(objs)...)
	body["objects"] = all
	writeTAXII(w, http.StatusOK, body)
}

func versionOf(o map[string]any, added time.Time) string {
	if m, ok := o["modified"].(string); ok {
		return m
	}
	return stamp(added)
}

func anySlice(ms []map[string]any) []any {
	out := make([]any, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}
