package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
)

// The cooperation pages, for authority users: peers and their agreements
// with a preview of what each receives, mutual assistance requests with
// their deadlines, and the custody logs of each link.

type fedPage struct {
	Peers       []peerRow
	Requests    []federation.Request
	Peer        *federation.Peer
	Link        federation.Link
	History     []federation.AgreementRecord
	Preview     []federation.PreviewLine
	Denied      []clauseCount
	Sends       int
	Custody     federation.CustodyReport
	LogOut      []federation.LogEntry
	LogIn       []federation.LogEntry
	CPOut       []federation.Checkpoint
	CPIn        []federation.Checkpoint
	Request     *federation.Request
	Now         time.Time
	Actions     []federation.Action
	Received    int
	Fingerprint map[string]string
	// The received items page.
	Items    []receivedRow
	PeerName string
	Kind     string
	Kinds    []federation.Kind
	PageNo   int
	PrevPage int
	NextPage int
	More     bool
}

// receivedRow is one received item as the page shows it: its body made
// readable (indented JSON; for evidence, the redacted message itself).
type receivedRow struct {
	federation.ReceivedItem
	State string
	Text  string
}

type peerRow struct {
	federation.Peer
	Link     federation.Link
	Received int
}

type clauseCount struct {
	Clause string
	N      int
}

func (s *Server) fedPage(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	d := pageData{Title: "Cooperation", User: p.ID, CSRF: sessionOf(r.Context()).CSRF, Authority: true}
	fed := s.cfg.Federation
	peers, err := fed.Store.Peers(r.Context())
	if err != nil {
		s.log.Error("list peers", "err", err)
	}
	fp := &fedPage{Now: s.now()}
	for _, pr := range peers {
		l, _ := fed.Store.Link(r.Context(), pr.Name)
		got, _ := fed.Store.Received(r.Context(), federation.ReceivedFilter{Peer: pr.Name})
		fp.Peers = append(fp.Peers, peerRow{Peer: pr, Link: l, Received: len(got)})
	}
	fp.Requests, err = fed.Store.Requests(r.Context(), "")
	if err != nil {
		s.log.Error("list requests", "err", err)
	}
	d.Fed = fp
	s.page(w, http.StatusOK, "fed", d)
}

func (s *Server) fedPeerPage(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	fed := s.cfg.Federation
	name := r.PathValue("name")
	peer, err := fed.Store.Peer(r.Context(), name)
	if err != nil {
		s.page(w, http.StatusNotFound, "message", pageData{Title: "Not found", User: p.ID, Message: "There is no such peer."})
		return
	}
	fp := &fedPage{Peer: peer, Now: s.now(), Fingerprint: map[string]string{}}
	for _, k := range peer.Keys {
		if pub, err := federation.ParsePublicKey(k.Key); err == nil {
			fp.Fingerprint[k.Key] = federation.Fingerprint(pub)
		}
	}
	fp.Link, _ = fed.Store.Link(r.Context(), name)
	fp.History, _ = fed.Store.AgreementHistory(r.Context(), name)
	if fp.Preview, err = fed.Preview(r.Context(), name, nil); err != nil {
		s.log.Error("preview", "peer", name, "err", err)
	}
	denied := map[string]int{}
	for _, l := range fp.Preview {
		if l.Decision.Allow {
			if l.State != "sent" {
				fp.Sends++
			}
		} else {
			denied[l.Decision.Clause]++
		}
	}
	for c, n := range denied {
		fp.Denied = append(fp.Denied, clauseCount{c, n})
	}
	sort.Slice(fp.Denied, func(i, j int) bool { return fp.Denied[i].Clause < fp.Denied[j].Clause })
	if fp.Custody, err = fed.VerifyCustody(r.Context(), name); err != nil {
		s.log.Error("custody", "peer", name, "err", err)
	}
	fp.LogOut, _ = fed.Store.Log(r.Context(), name, federation.Out)
	fp.LogIn, _ = fed.Store.Log(r.Context(), name, federation.In)
	fp.CPOut, _ = fed.Store.Checkpoints(r.Context(), name, federation.Out)
	fp.CPIn, _ = fed.Store.Checkpoints(r.Context(), name, federation.In)
	fp.LogOut, fp.LogIn = lastEntries(fp.LogOut, 100), lastEntries(fp.LogIn, 100)
	s.page(w, http.StatusOK, "fedpeer", pageData{Title: "Peer " + name, User: p.ID, CSRF: sessionOf(r.Context()).CSRF, Authority: true, Fed: fp})
}

func lastEntries(es []federation.LogEntry, n int) []federation.LogEntry {
	if len(es) > n {
		es = es[len(es)-n:]
	}
	out := make([]federation.LogEntry, len(es))
	for i := range es {
		out[i] = es[len(es)-1-i]
	}
	return out
}

func (s *Server) fedRequestPage(w http.ResponseWriter, r *http.Request) {
	s.showRequest(w, r, http.StatusOK, "")
}

func (s *Server) showRequest(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := principalOf(r.Context())
	req, err := s.cfg.Federation.Store.Request(r.Context(), r.PathValue("id"))
	if err != nil {
		s.page(w, http.StatusNotFound, "message", pageData{Title: "Not found", User: p.ID, Message: "There is no such request."})
		return
	}
	fp := &fedPage{Request: req, Now: s.now()}
	for _, a := range []federation.Action{federation.ActAccept, federation.ActRefuse, federation.ActSupply, federation.ActMeasure, federation.ActClose} {
		if _, err := federation.Next(req, a, req.Role); err == nil {
			fp.Actions = append(fp.Actions, a)
		}
	}
	d := pageData{Title: "Request " + req.ID, User: p.ID, CSRF: sessionOf(r.Context()).CSRF, Authority: true, Fed: fp}
	if status == http.StatusOK {
		d.Message = msg
	} else {
		d.Error = msg
	}
	s.page(w, status, "fedrequest", d)
}

func (s *Server) fedRequestAction(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	a := federation.Action(r.FormValue("action"))
	_, err := s.cfg.Federation.Transition(r.Context(), r.PathValue("id"), a, r.FormValue("note"), p.Label())
	if errors.Is(err, federation.ErrNotFound) {
		s.page(w, http.StatusNotFound, "message", pageData{Title: "Not found", User: p.ID, Message: "There is no such request."})
		return
	}
	if err != nil {
		s.showRequest(w, r, http.StatusUnprocessableEntity, err.Error())
		return
	}
	s.log.Info("assistance request updated", "id", r.PathValue("id"), "action", a, "by", s.logLabel(p.Label()))
	s.showRequest(w, r, http.StatusOK, "Recorded; it goes to the peer with the next sync.")
}

// receivedPerPage is how many received items a page shows.
const receivedPerPage = 50

// fedReceivedPage lets an authority read what partners sent: every item
// in full with the terms it came under, its proof and its state.
func (s *Server) fedReceivedPage(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	fed := s.cfg.Federation
	fp := &fedPage{Now: s.now(), PeerName: r.URL.Query().Get("peer"), Kind: r.URL.Query().Get("kind"), Kinds: federation.Kinds, PageNo: 1}
	d := pageData{Title: "Received from partners", User: p.ID, CSRF: sessionOf(r.Context()).CSRF, Authority: true, Fed: fp}
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n > 1 && n < 100000 {
		fp.PageNo = n
	}
	if fp.Kind != "" && !slices.Contains(federation.Kinds, federation.Kind(fp.Kind)) {
		d.Error = "There is no such kind of item."
		s.page(w, http.StatusBadRequest, "fedreceived", d)
		return
	}
	peers, err := fed.Store.Peers(r.Context())
	if err != nil {
		s.log.Error("list peers", "err", err)
	}
	fp.Peers = make([]peerRow, len(peers))
	for i, pr := range peers {
		fp.Peers[i] = peerRow{Peer: pr}
	}
	items, err := fed.Store.Received(r.Context(), federation.ReceivedFilter{Peer: fp.PeerName, Kind: federation.Kind(fp.Kind),
		Limit: receivedPerPage + 1, Offset: (fp.PageNo - 1) * receivedPerPage})
	if err != nil {
		s.log.Error("received items", "err", err)
		d.Error = "The received items could not be read."
	}
	if len(items) > receivedPerPage {
		fp.More, items = true, items[:receivedPerPage]
	}
	fp.PrevPage, fp.NextPage = fp.PageNo-1, fp.PageNo+1
	for _, it := range items {
		fp.Items = append(fp.Items, receivedRow{ReceivedItem: it, State: it.Status(), Text: readable(it.Item)})
	}
	s.page(w, http.StatusOK, "fedreceived", d)
}

// readable renders an item's body for reading: indented JSON, and an
// evidence item's redacted message as its text.
func readable(it federation.Item) string {
	if len(it.Body) == 0 {
		return "(purged: only the key and hash are kept)"
	}
	if it.Kind == federation.KindEvidence {
		var ev struct {
			Redacted string `json:"redacted"`
		}
		if json.Unmarshal(it.Body, &ev) == nil {
			if b, err := base64.StdEncoding.DecodeString(ev.Redacted); err == nil {
				if len(b) > 64<<10 {
					b = append(b[:64<<10], "\n… (cut at 64 KiB; accord received --json has it whole)"...)
				}
				return string(b)
			}
		}
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, it.Body, "", "  "); err != nil {
		return string(it.Body)
	}
	return buf.String()
}
