package trace

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/netip"
	"path"
	"strings"
	"sync"
)

// Provider is what trace-back knows about one large mailbox provider's own
// infrastructure (providers.json, embedded). It only ever speeds the
// boundary past hops the generic rules could not place, or stops it at an
// inbound edge; a provider that is not listed is handled by the generic
// rules alone.
type Provider struct {
	Name string `json:"name"`
	// Hosts are domain suffixes of the names the provider's servers write
	// about themselves in "by". Only a trusted receiver's own name is
	// matched against them, never a client's greeting or reverse name.
	Hosts []string `json:"hosts"`
	// Edges are patterns ("*" matches any run of characters) of the
	// provider's inbound servers. Their client is outside the boundary even
	// when it is numbered in the provider's networks: another customer of a
	// multi-tenant service, or a cloud tenant.
	Edges []string `json:"edges"`
	// Networks and ASNs are where the provider's own mail servers are
	// numbered.
	Networks    []string `json:"networks"`
	ASNs        []uint32 `json:"asns"`
	AuthServIDs []string `json:"authserv_ids"` // Patterns; "" when the provider writes none.
	ARCSealers  []string `json:"arc_sealers"`  // d= of its ARC-Seal fields.
	// BelowReceived are the fields the provider writes, in this order,
	// directly below its own Received field (Gmail: Received-SPF, then
	// Authentication-Results), where a sender's fields follow.
	BelowReceived []string `json:"below_received,omitempty"`
	// ReturnPathLast: the provider appends its Return-Path after the
	// header block it received (Microsoft 365), so its own is the last one,
	// not the topmost.
	ReturnPathLast bool   `json:"return_path_last,omitempty"`
	Evidence       string `json:"evidence"`

	prefixes []netip.Prefix
}

// Providers is the provider knowledge, as data.
type Providers struct {
	Version string     `json:"version"`
	About   string     `json:"about"`
	List    []Provider `json:"providers"`
}

//go:embed providers.json
var providersJSON []byte

// EmbeddedProviders returns the provider knowledge compiled into the
// binary. It is parsed once; the result is shared and must not be changed.
func EmbeddedProviders() (*Providers, error) { return embeddedProviders() }

var embeddedProviders = sync.OnceValues(func() (*Providers, error) { return ParseProviders(providersJSON) })

// ParseProviders reads provider knowledge in the providers.json format.
func ParseProviders(b []byte) (*Providers, error) {
	var p Providers
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("providers: %w", err)
	}
	for i := range p.List {
		pr := &p.List[i]
		if pr.Name == "" || len(pr.Hosts) == 0 {
			return nil, fmt.Errorf("providers: entry %d needs a name and hosts", i)
		}
		for _, s := range pr.Networks {
			n, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("providers: %s: %w", pr.Name, err)
			}
			pr.prefixes = append(pr.prefixes, n.Masked())
		}
		for _, pats := range [][]string{pr.Edges, pr.AuthServIDs} {
			for _, pat := range pats {
				if _, err := path.Match(pat, ""); err != nil {
					return nil, fmt.Errorf("providers: %s: pattern %q: %w", pr.Name, pat, err)
				}
			}
		}
	}
	return &p, nil
}

// ByHost returns the provider whose servers carry this name, if any.
func (ps *Providers) ByHost(name string) *Provider {
	if ps == nil {
		return nil
	}
	name = normName(name)
	if name == "" {
		return nil
	}
	for i := range ps.List {
		for _, h := range ps.List[i].Hosts {
			if name == h || len(name) > len(h) && name[len(name)-len(h)-1] == '.' && strings.HasSuffix(name, h) { // name ends in "."+h
				return &ps.List[i]
			}
		}
	}
	return nil
}

// IsEdge reports whether name is one of the provider's inbound servers.
func (p *Provider) IsEdge(name string) bool {
	return p != nil && matchAny(p.Edges, normName(name))
}

// Holds reports whether a is in the provider's own networks, and which.
func (p *Provider) Holds(a netip.Addr, asn uint32) (string, bool) {
	if p == nil || !a.IsValid() {
		return "", false
	}
	for _, n := range p.prefixes {
		if n.Contains(a) {
			return n.String(), true
		}
	}
	for _, x := range p.ASNs {
		if asn != 0 && asn == x {
			return fmt.Sprintf("AS%d", x), true
		}
	}
	return "", false
}

// WritesAuthServID reports whether the provider's Authentication-Results
// carry this authserv-id ("" for none).
func (p *Provider) WritesAuthServID(id string) bool {
	return p != nil && matchAny(p.AuthServIDs, strings.ToLower(id))
}

func matchAny(pats []string, s string) bool {
	for _, p := range pats {
		if !mayMatch(p, s) {
			continue
		}
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}

// mayMatch is false when s cannot match the glob p: it lacks p's literal
// start (before the first special character) or end (after the last),
// which every match has. Most host names are ruled out so, without
// path.Match's backtracking over every star (each relay of every message
// was tried against every pattern of its provider).
func mayMatch(p, s string) bool {
	i := strings.IndexAny(p, `*?[\`)
	if i < 0 {
		return p == s
	}
	j := strings.LastIndexAny(p, `*?[]\`)
	return len(s) >= i+len(p)-j-1 && strings.HasPrefix(s, p[:i]) && strings.HasSuffix(s, p[j+1:])
}

func normName(s string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
}
