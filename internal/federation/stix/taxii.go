package stix

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/federation"
)

// Media types of TAXII 2.1.
const (
	TAXIIMedia = "application/taxii+json;version=2.1"
	STIXMedia  = "application/stix+json;version=2.1"
)

// TAXII is the read-only TAXII 2.1 server of a node: discovery at
// /taxii2/, one API root, and a collection per active peer whose objects
// are what that peer's agreement allows, published by the Feed. A peer's
// token reads its own collection only; authority and admin tokens read
// every collection (to check what a peer sees). Every read of a peer's
// collection by its client is logged and enters the custody log of the
// link with the next envelope.
type TAXII struct {
	Fed    *federation.Service
	Feed   *Feed
	Tokens access.Store
	Title  string
	// PublicURL is the node's public base (https://desk.example.org): the
	// discovery links are built on it, never on the request's Host
	// header. Empty: the request's scheme and Host (tests).
	PublicURL string
	Log       *slog.Logger
	// PerToken bounds the requests one token has in progress at once
	// (0: DefaultPerToken); one more is answered 429 with Retry-After. A
	// page costs the node real work (the database reads up to 1,000
	// objects), and a partner's client — or a leaked token — must not
	// hold every core the filter and the desk share.
	PerToken int

	uses *sync.Map // Token id → time.Time of its last recorded use; made by Handler.

	busy *inProgress // Made by Handler.
}

// inProgress counts each token's requests in progress.
type inProgress struct {
	mu sync.Mutex
	n  map[string]int // Token secret's hash → requests in progress.
}

// DefaultPerToken is how many requests one token may have in progress.
const DefaultPerToken = 2

// retryAfter is what a client told 429 waits, in seconds.
const retryAfter = "1"

// hold takes a place for a token among its requests in progress; false
// when it has PerToken already. The place is released by the function
// returned.
func (t *TAXII) hold(key string) (func(), bool) {
	limit := t.PerToken
	if limit <= 0 {
		limit = DefaultPerToken
	}
	b := t.busy
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n[key] >= limit {
		return nil, false
	}
	b.n[key]++
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.n[key]--; b.n[key] <= 0 {
			delete(b.n, key)
		}
	}, true
}

// tokenUseEvery bounds how often a token's use is written: its last use
// and an audit line, as the desk does for API tokens.
const tokenUseEvery = 10 * time.Minute

// used records a token's use — its last-use time (shown by `accord token
// list`) and a "token-used" audit event — at most every tokenUseEvery.
func (t *TAXII) used(r *http.Request, tok access.Token) {
	now := time.Now()
	if t.uses != nil {
		if last, ok := t.uses.Load(tok.ID); ok && now.Sub(last.(time.Time)) < tokenUseEvery {
			return
		}
		t.uses.Store(tok.ID, now)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if acc, ok := t.Tokens.(access.Accounts); ok {
		if err := acc.TokenUsed(ctx, tok.ID, now.UTC()); err != nil {
			t.log().Error("taxii: record a token's use", "token", tok.ID, "err", err)
		}
	}
	if au, ok := t.Tokens.(access.Auditor); ok {
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		if err := au.AppendAudit(ctx, access.Event{At: now.UTC(), Actor: "token:" + tok.ID, Action: access.AuditTokenUsed, Target: "token:" + tok.ID,
			IP: ip, Detail: r.Method + " " + r.URL.Path}); err != nil {
			t.log().Error("taxii: audit a token's use", "token", tok.ID, "err", err)
		}
	}
}

// Prefix is where the server is mounted.
const Prefix = "/taxii2/"

// MaxPage is the most objects one response holds; a larger limit is
// served as this many, with "more" and "next" for the rest.
const MaxPage = 1000

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

func (t *TAXII) log() *slog.Logger {
	if t.Log != nil {
		return t.Log
	}
	return slog.New(slog.DiscardHandler)
}

// client is who asks: a peer (its name) or an authority (all).
type client struct {
	peer  string
	all   bool
	token string
}

// secret is the token a request presents: Bearer, or Basic's password
// (any user name).
func secret(r *http.Request) string {
	if tok, ok := access.Bearer(r.Header.Get("Authorization")); ok {
		return tok
	} else if _, pw, ok := r.BasicAuth(); ok {
		return pw
	}
	return ""
}

func (t *TAXII) authenticate(r *http.Request, secret string) (client, bool) {
	if secret == "" {
		return client{}, false
	}
	tok, err := t.Tokens.TokenByHash(r.Context(), access.Hash(secret))
	if err != nil {
		return client{}, false
	}
	switch {
	case tok.Role == access.Peer:
		t.used(r, tok)
		return client{peer: tok.Label, token: tok.ID}, true
	case tok.Role.AtLeast(access.Authority):
		t.used(r, tok)
		return client{all: true, token: tok.ID}, true
	}
	return client{}, false
}

// acceptable reports whether the request's Accept header lets the
// server answer as TAXII 2.1 does: one media range of the list (RFC 9110
// §12.5.1, not excluded by q=0) is */*, application/*, or
// application/taxii+json (or stix+json) with no version or version 2.1.
// A list naming only plain application/json, or TAXII 2.0
// (version=2.0), is answered 406 as the specification says — the content
// would be 2.1 under a type the client did not ask for. No header at all
// is taken as */* (curl, a browser's address bar).
func acceptable(r *http.Request) bool {
	a := r.Header.Get("Accept")
	if strings.TrimSpace(a) == "" {
		return true
	}
	for _, rng := range strings.Split(a, ",") {
		params := strings.Split(rng, ";")
		media := strings.ToLower(strings.TrimSpace(params[0]))
		version, q := "", ""
		for _, p := range params[1:] {
			k, v, _ := strings.Cut(p, "=")
			v = strings.Trim(strings.TrimSpace(v), `"`)
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "version":
				version = v
			case "q":
				q = v
			}
		}
		if q != "" {
			if w, err := strconv.ParseFloat(q, 64); err != nil || w <= 0 {
				continue
			}
		}
		switch media {
		case "*/*", "application/*":
			return true
		case "application/taxii+json", "application/stix+json":
			if version == "" || version == "2.1" {
				return true
			}
		}
	}
	return false
}

// Handler serves the TAXII API.
func (t *TAXII) Handler() http.Handler {
	if t.uses == nil {
		t.uses = &sync.Map{}
	}
	if t.busy == nil {
		t.busy = &inProgress{n: map[string]int{}}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			fail(w, http.StatusMethodNotAllowed, "read-only", "this TAXII server serves collections for reading only")
			return
		}
		if !acceptable(r) {
			fail(w, http.StatusNotAcceptable, "not acceptable", "this server speaks TAXII 2.1 only: ask for "+TAXIIMedia)
			return
		}
		// The bound is taken before the token is looked up, by its hash:
		// a token's requests wait for nothing, and each costs at most
		// one lookup while PerToken of them are in progress.
		sec := secret(r)
		if sec != "" {
			release, ok := t.hold(access.Hash(sec))
			if !ok {
				w.Header().Set("Retry-After", retryAfter)
				fail(w, http.StatusTooManyRequests, "too many requests",
					"this token has as many requests in progress as it may; send the next when one has been answered")
				return
			}
			defer release()
		}
		c, ok := t.authenticate(r, sec)
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
		ctx := r.Context()
		switch {
		case path == "/" || path == "":
			writeTAXII(w, http.StatusOK, map[string]any{"title": t.Title, "description": "Spam indicators, campaigns, reports and statistics shared under agreements",
				"default": base + "api/", "api_roots": []string{base + "api/"}})
		case len(parts) == 1 && parts[0] == "api":
			writeTAXII(w, http.StatusOK, map[string]any{"title": t.Title + " API root", "versions": []string{TAXIIMedia}, "max_content_length": 0})
		case len(parts) == 2 && parts[0] == "api" && parts[1] == "collections":
			peers, err := t.Fed.Store.Peers(ctx)
			if err != nil {
				t.internal(w, err)
				return
			}
			cols := []map[string]any{}
			for _, p := range peers {
				if p.Status == federation.StatusActive && (c.all || c.peer == p.Name) && p.Collection != "" {
					cols = append(cols, describe(p))
				}
			}
			writeTAXII(w, http.StatusOK, map[string]any{"collections": cols})
		case len(parts) >= 3 && parts[0] == "api" && parts[1] == "collections":
			p, err := t.collection(ctx, c, parts[2])
			if err != nil {
				t.internal(w, err)
				return
			}
			if p == nil {
				fail(w, http.StatusNotFound, "not found", "no collection "+parts[2]+" for this client")
				return
			}
			rest := parts[3:]
			switch {
			case len(rest) == 0:
				writeTAXII(w, http.StatusOK, describe(*p))
			case len(rest) == 1 && (rest[0] == "objects" || rest[0] == "manifest"):
				t.objects(w, r, c, p, "", rest[0] == "manifest")
			case len(rest) == 2 && rest[0] == "objects":
				t.objects(w, r, c, p, rest[1], false)
			case len(rest) == 3 && rest[0] == "objects" && rest[2] == "versions":
				t.versions(w, r, c, p, rest[1])
			default:
				fail(w, http.StatusNotFound, "not found", "")
			}
		default:
			fail(w, http.StatusNotFound, "not found", "")
		}
	})
}

func (t *TAXII) internal(w http.ResponseWriter, err error) {
	t.log().Error("taxii: internal error", "err", err)
	fail(w, http.StatusInternalServerError, "internal error", "the server could not answer; try again later")
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// collection finds the collection a client may read by its id: nil when
// there is none for it (the same answer whether it exists or not).
func (t *TAXII) collection(ctx context.Context, c client, id string) (*federation.Peer, error) {
	peers, err := t.Fed.Store.Peers(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range peers {
		if p.Collection == id && p.Status == federation.StatusActive && (c.all || c.peer == p.Name) {
			return &p, nil
		}
	}
	return nil, nil
}

// describe is a collection's resource, its description written from the
// agreement in force.
func describe(p federation.Peer) map[string]any {
	return map[string]any{"id": p.Collection, "title": "Shared with " + p.Name + " (" + p.Jurisdiction + ")",
		"description": Describe(p.Agreement), "can_read": true, "can_write": false, "media_types": []string{STIXMedia}}
}

// Describe says in words what an agreement lets a collection hold.
func Describe(a *federation.Agreement) string {
	if a == nil {
		return "No agreement is in force: the collection holds nothing but the node's identity."
	}
	var kinds []string
	for _, k := range a.Share {
		switch k {
		case federation.KindIndicators, federation.KindCampaigns, federation.KindReports, federation.KindStatistics:
			kinds = append(kinds, string(k))
		}
	}
	what := "nothing (its kinds do not travel as STIX)"
	if len(kinds) > 0 {
		what = strings.Join(kinds, ", ")
	}
	origins := "of no origin"
	switch {
	case slices.Contains(a.Origins, "*"):
		origins = "of any origin"
	case len(a.Origins) > 0:
		origins = "of spam from " + strings.Join(a.Origins, ", ")
	}
	s := fmt.Sprintf("Shared under %s version %d: %s up to TLP:%s, %s", a.ID, a.Version, what, strings.ToUpper(string(a.TLPMax)), origins)
	if slices.Contains(a.Share, federation.KindStatistics) {
		s += fmt.Sprintf("; statistics show no count below %d", max(a.MinAggregate, 5))
	}
	if len(a.Purposes) > 0 {
		s += "; for " + strings.Join(a.Purposes, ", ")
	}
	if a.LegalBasis != "" {
		s += "; legal basis: " + a.LegalBasis
	}
	if a.RetentionDays > 0 {
		s += fmt.Sprintf("; kept at most %d days", a.RetentionDays)
	}
	if a.OnwardSharing {
		s += "; onward sharing allowed"
	} else {
		s += "; not to be passed on"
	}
	return s + "."
}

// addedStamp formats date_added and the X-TAXII-Date-Added headers: UTC,
// microseconds, the precision of the added-log (each entry of a
// collection has its own instant, so added_after with the last value seen
// misses nothing and repeats nothing).
func addedStamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// query reads the filters of a request.
func query(r *http.Request, id string) (federation.FeedQuery, error) {
	q := r.URL.Query()
	fq := federation.FeedQuery{Limit: MaxPage}
	if s := q.Get("added_after"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fq, fmt.Errorf("added_after: want an RFC 3339 timestamp")
		}
		fq.AddedAfter = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fq, fmt.Errorf("limit: want a positive number")
		}
		fq.Limit = min(n, MaxPage)
	}
	if s := q.Get("next"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(s)
		n, err2 := strconv.ParseInt(string(b), 10, 64)
		if err != nil || err2 != nil || n <= 0 {
			return fq, fmt.Errorf("next: not a value this server gave")
		}
		fq.After = time.Unix(0, n).UTC()
	}
	split := func(name string) []string {
		var out []string
		for _, v := range q[name] {
			for _, x := range strings.Split(v, ",") {
				if x = strings.TrimSpace(x); x != "" {
					out = append(out, x)
				}
			}
		}
		return out
	}
	fq.IDs = split("match[id]")
	if id != "" {
		fq.IDs = []string{id}
	}
	fq.Types = split("match[type]")
	for _, v := range split("match[version]") {
		switch v {
		case "last":
			fq.Last = true
		case "first":
			fq.First = true
		case "all":
			fq.All = true
		default:
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return fq, fmt.Errorf("match[version]: want last, first, all or timestamps")
			}
			fq.At = append(fq.At, t)
		}
	}
	if !fq.First && !fq.All && len(fq.At) == 0 {
		fq.Last = true
	}
	if sv := split("match[spec_version]"); len(sv) > 0 && !slices.Contains(sv, "2.1") {
		fq.None = true
	}
	return fq, nil
}

func cursor(t time.Time) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.UnixNano(), 10)))
}

// objects serves a collection's objects or manifest (or one object's
// versions as objects), oldest first, filtered, paginated with an exact
// limit.
func (t *TAXII) objects(w http.ResponseWriter, r *http.Request, c client, p *federation.Peer, id string, manifest bool) {
	ctx := r.Context()
	fq, err := query(r, id)
	if err != nil {
		fail(w, http.StatusBadRequest, "bad filter", err.Error())
		return
	}
	if err := t.Feed.Update(ctx); err != nil {
		t.internal(w, err)
		return
	}
	if id != "" {
		vs, err := t.Feed.Store.ObjectVersions(ctx, p.Name, id)
		if err != nil {
			t.internal(w, err)
			return
		}
		if len(vs) == 0 {
			fail(w, http.StatusNotFound, "not found", "no object "+id+" in this collection")
			return
		}
	}
	es, bodies, err := t.Feed.Store.CollectionEntries(ctx, p.Name, fq)
	if err != nil {
		t.internal(w, err)
		return
	}
	more := len(es) > fq.Limit
	if more {
		es, bodies = es[:fq.Limit], bodies[:fq.Limit]
	}
	body := map[string]any{"more": more}
	if more {
		body["next"] = cursor(es[len(es)-1].Added)
	}
	if len(es) > 0 {
		w.Header().Set("X-TAXII-Date-Added-First", addedStamp(es[0].Added))
		w.Header().Set("X-TAXII-Date-Added-Last", addedStamp(es[len(es)-1].Added))
	}
	h := sha256.New()
	if manifest {
		ms := make([]map[string]any, len(es))
		for i, e := range es {
			ms[i] = map[string]any{"id": e.ID, "date_added": addedStamp(e.Added), "version": stamp(e.Version), "media_type": STIXMedia}
			fmt.Fprintf(h, "%s %s\n", e.ID, stamp(e.Version))
		}
		if len(ms) > 0 {
			body["objects"] = ms
		}
	} else {
		objs := make([]json.RawMessage, len(bodies))
		for i, v := range bodies {
			objs[i] = v.Body
			fmt.Fprintf(h, "%s %s\n", v.ID, stamp(v.Version))
		}
		if len(objs) > 0 {
			body["objects"] = objs
		}
	}
	t.read(ctx, c, p, r, len(es), hex.EncodeToString(h.Sum(nil)))
	writeTAXII(w, http.StatusOK, body)
}

// versions serves the versions of one object in a collection.
func (t *TAXII) versions(w http.ResponseWriter, r *http.Request, c client, p *federation.Peer, id string) {
	ctx := r.Context()
	fq, err := query(r, id)
	if err != nil {
		fail(w, http.StatusBadRequest, "bad filter", err.Error())
		return
	}
	if err := t.Feed.Update(ctx); err != nil {
		t.internal(w, err)
		return
	}
	vs, err := t.Feed.Store.ObjectVersions(ctx, p.Name, id)
	if err != nil {
		t.internal(w, err)
		return
	}
	if len(vs) == 0 {
		fail(w, http.StatusNotFound, "not found", "no object "+id+" in this collection")
		return
	}
	var sel []federation.FeedEntry
	for _, v := range vs {
		if v.Added.After(fq.AddedAfter) && v.Added.After(fq.After) && !fq.None {
			sel = append(sel, v)
		}
	}
	more := len(sel) > fq.Limit
	if more {
		sel = sel[:fq.Limit]
	}
	body := map[string]any{"more": more}
	if more {
		body["next"] = cursor(sel[len(sel)-1].Added)
	}
	h := sha256.New()
	list := make([]string, len(sel))
	for i, v := range sel {
		list[i] = stamp(v.Version)
		fmt.Fprintf(h, "%s %s\n", id, list[i])
	}
	if len(sel) > 0 {
		body["versions"] = list
		w.Header().Set("X-TAXII-Date-Added-First", addedStamp(sel[0].Added))
		w.Header().Set("X-TAXII-Date-Added-Last", addedStamp(sel[len(sel)-1].Added))
	}
	t.read(ctx, c, p, r, len(sel), hex.EncodeToString(h.Sum(nil)))
	writeTAXII(w, http.StatusOK, body)
}

// read logs a read, and records a peer client's read for the custody log
// of its link.
func (t *TAXII) read(ctx context.Context, c client, p *federation.Peer, r *http.Request, n int, hash string) {
	t.log().Info("taxii: read", "collection", p.Name, "client_peer", c.peer, "token", c.token, "request", r.URL.RequestURI(), "objects", n)
	if c.peer == "" || c.peer != p.Name {
		return
	}
	rd := federation.BoundRead(federation.Read{At: time.Now().UTC(), Request: r.URL.RequestURI(), Objects: n, Hash: hash})
	if err := t.Fed.Store.RecordRead(ctx, p.Name, rd); err != nil {
		t.log().Error("taxii: record a read", "peer", p.Name, "err", err)
	}
}
