package web

import (
	"net/http"

	"github.com/accord-antispam/accord/internal/nodekey"
)

// nodeInfo is what the node publishes about itself: enough to check who
// signed an evidence bundle.
type nodeInfo struct {
	Name         string `json:"name"`
	Jurisdiction string `json:"jurisdiction,omitempty"`
	PublicKey    string `json:"public_key"`
	Fingerprint  string `json:"fingerprint"`
	PublicURL    string `json:"public_url"`
}

func (s *Server) nodeInfo(r *http.Request) *nodeInfo {
	fp, _ := nodekey.Fingerprint(s.cfg.NodeKey)
	return &nodeInfo{Name: s.cfg.Name, Jurisdiction: s.cfg.Jurisdiction, PublicKey: s.cfg.NodeKey, Fingerprint: fp, PublicURL: s.publicBase(r)}
}

func (s *Server) nodePage(w http.ResponseWriter, r *http.Request) {
	d := s.public(w, r)
	d.Title, d.Node = s.tr(d.Lang, "node_title"), s.nodeInfo(r)
	s.page(w, http.StatusOK, "node", d)
}

func (s *Server) apiNode(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.nodeInfo(r))
}
