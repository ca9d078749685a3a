// Package stix maps what a node shares to STIX 2.1 and serves it over a
// read-only TAXII 2.1 API, so that MISP, OpenCTI and other consumers can
// read a node's feed. Inside, Accord keeps its own model; STIX is only the
// edge. Each peer's collection holds exactly what its agreement allows,
// and revoked versions of what left it (so that a polling client learns
// of every withdrawal); every object carries its TLP 2.0 marking, whose
// definitions (the exact OASIS objects) travel in every bundle.
package stix

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/accord-antispam/accord/internal/federation"
)

// tlpDefinitions are the five TLP 2.0 marking-definition objects exactly as
// OASIS publishes them (cti-stix-common-objects, extension-definition
// 60a3c5c5-…, created 2022-10-01).
//
//go:embed tlp2.json
var tlpDefinitions []byte

// Marking returns the OASIS marking-definition object of a TLP level.
func Marking(t federation.TLP) (json.RawMessage, string, error) {
	var b struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(tlpDefinitions, &b); err != nil {
		return nil, "", err
	}
	for _, o := range b.Objects {
		var m struct {
			ID         string `json:"id"`
			Extensions map[string]struct {
				TLP string `json:"tlp_2_0"`
			} `json:"extensions"`
		}
		if err := json.Unmarshal(o, &m); err != nil {
			return nil, "", err
		}
		for _, ext := range m.Extensions {
			if ext.TLP == string(t) {
				return o, m.ID, nil
			}
		}
	}
	return nil, "", fmt.Errorf("stix: no TLP 2.0 marking for %q", t)
}

// scoNamespace is the STIX 2.1 namespace for deterministic SCO ids
// (section 2.9 of the specification).
var scoNamespace = uuid.MustParse("00abedb4-aa42-466c-9c01-fed23315a9b7")

// scoID is a deterministic id from the object's value, as STIX 2.1 §2.9
// asks: UUIDv5 over the JCS (RFC 8785) serialization of the
// id-contributing properties. Not json.Marshal: it writes &, <, > (and
// U+2028, U+2029) as \u escapes, which JCS keeps as they are, so a link
// with & in its query would get an id no other producer computes.
func scoID(typ, value string) string {
	return typ + "--" + uuid.NewSHA1(scoNamespace, []byte(`{"value":`+jcsString(value)+`}`)).String()
}

// jcsString is s as a JSON string the way RFC 8785 §3.2.2.2 writes it:
// only the quotation mark, the reverse solidus and the control characters
// are escaped (the short forms where JSON has them, else \u00xx in lower
// case); everything else, as UTF-8.
func jcsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Slots: the objects an item maps to. A domain object's id is random
// (UUIDv4, as STIX asks) and stored, so it survives key rotations and
// restarts; an observable's is derived from its value (UUIDv5).
const (
	SlotObservable   = "observable"
	SlotIndicator    = "indicator"
	SlotRelationship = "relationship"
	SlotCampaign     = "campaign"
	SlotReport       = "report"
	SlotStatistics   = "statistics"
)

// SlotsOf lists the slots an item of a kind fills, with each slot's STIX
// type; evidence maps to nothing (its bytes never go into a feed).
func SlotsOf(it federation.Item) []struct{ Slot, Type string } {
	type st = struct{ Slot, Type string }
	switch it.Kind {
	case federation.KindIndicators:
		return []st{{SlotObservable, indicatorType(it)}, {SlotIndicator, "indicator"}, {SlotRelationship, "relationship"}}
	case federation.KindCampaigns:
		return []st{{SlotCampaign, "campaign"}}
	case federation.KindReports:
		return []st{{SlotReport, "report"}}
	case federation.KindStatistics:
		return []st{{SlotStatistics, StatsType}}
	}
	return nil
}

// indicatorType is the observable type of an indicator item
// ("ind:ipv4-addr:…").
func indicatorType(it federation.Item) string {
	parts := strings.SplitN(it.Key, ":", 3)
	if len(parts) == 3 {
		return parts[1]
	}
	return ""
}

// ObservableID is the derived id of an indicator item's observable.
func ObservableID(it federation.Item) string {
	parts := strings.SplitN(it.Key, ":", 3)
	if len(parts) != 3 {
		return ""
	}
	return scoID(parts[1], parts[2])
}

// Refs resolves the stored ids and times of published objects.
type Refs interface {
	// ID of an item's object in a slot (allocated on first use).
	ID(itemKey, slot string) string
	// Times of that object: first published, and this version.
	Times(itemKey, slot string) (created, modified time.Time)
}

// Mapper turns a node's items into STIX objects, created by the node's
// identity.
type Mapper struct {
	Identity string // The node's identity object id ("identity--…").
}

// IdentityObject is the node's identity, the creator of everything it
// publishes.
func IdentityObject(id, name, description string, created, modified time.Time) map[string]any {
	return map[string]any{"type": "identity", "spec_version": "2.1", "id": id, "created": stamp(created), "modified": stamp(modified),
		"name": name, "identity_class": "organization", "description": description}
}

// stamp formats a STIX timestamp (UTC, milliseconds).
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// patternValue is v as the body of a STIX pattern string literal: a
// quote and a backslash escaped by a backslash, the only escapes the
// grammar of STIX 2.1 patterns has in a StringLiteral.
func patternValue(v string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v)
}

// exactPattern matches the observable whose value is v, and only it.
func exactPattern(typ, v string) string {
	return fmt.Sprintf("[%s:value = '%s']", typ, patternValue(v))
}

// URLPattern is the pattern of a url indicator. The collector shares a
// link generalised to what identifies the spam run (privacy.People.URL):
// query, fragment and user information always go; the path is cut before
// the first segment that could name the recipient, and a cut path ends
// with "/"; when the path names someone as a whole, only scheme and host
// stay. An indicator must say that truthfully: a value whose path ends
// with "/" stands for every link under it, a value with no path for the
// host's own link and every link under it — a prefix, not an exact value
// (an exact match would never meet the real link). The item does not say
// whether a path was cut or the link ended there; either way the real
// link matches. Any other value is exact.
//
// STIX LIKE has no escape: every % and _ in its pattern is a wildcard
// (the STIX 2.1 grammar has no ESCAPE, and the
// OASIS reference matcher reads every one as a wildcard). A prefix
// holding either — a percent-encoded path, an underscore — is written as
// an anchored regular expression (MATCHES) with every metacharacter
// quoted, so that it means exactly that prefix.
func URLPattern(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(v, "#") {
		return exactPattern("url", v)
	}
	switch {
	case u.Path == "" && u.RawPath == "" && !strings.HasSuffix(v, "/"):
		return fmt.Sprintf("[url:value = '%s' OR %s]", patternValue(v), prefixTest(v+"/"))
	case strings.HasSuffix(v, "/"):
		return "[" + prefixTest(v) + "]"
	}
	return exactPattern("url", v)
}

// prefixTest is the comparison "url:value begins with p".
func prefixTest(p string) string {
	if strings.ContainsAny(p, "%_") {
		return "url:value MATCHES '" + patternValue("^"+regexp.QuoteMeta(p)) + "'"
	}
	return "url:value LIKE '" + patternValue(p) + "%'"
}

// Objects maps one item to STIX objects with the ids and times refs
// holds. Evidence maps to nothing: its bytes never go into a feed.
func (m *Mapper) Objects(it federation.Item, refs Refs) ([]map[string]any, error) {
	_, marking, err := Marking(it.TLP)
	if err != nil {
		return nil, err
	}
	common := func(slot, typ string) map[string]any {
		c, mod := refs.Times(it.Key, slot)
		return map[string]any{"type": typ, "spec_version": "2.1", "id": refs.ID(it.Key, slot), "created": stamp(c), "modified": stamp(mod),
			"created_by_ref": m.Identity, "object_marking_refs": []string{marking}}
	}
	switch it.Kind {
	case federation.KindIndicators:
		var in struct {
			Type    string    `json:"type"`
			Value   string    `json:"value"`
			Reports int       `json:"reports"`
			First   time.Time `json:"first_seen"`
			Origins []string  `json:"origins"`
		}
		if err := json.Unmarshal(it.Body, &in); err != nil {
			return nil, fmt.Errorf("stix: item %s: %w", it.Key, err)
		}
		sco := map[string]any{"type": in.Type, "spec_version": "2.1", "id": scoID(in.Type, in.Value), "value": in.Value,
			"object_marking_refs": []string{marking}}
		ind := common(SlotIndicator, "indicator")
		ind["name"] = fmt.Sprintf("%s %s in reported spam", in.Type, in.Value)
		ind["description"] = fmt.Sprintf("Seen in %d spam reports; origins %s.", in.Reports, orUnknown(in.Origins))
		ind["indicator_types"] = []string{"malicious-activity"}
		ind["pattern"] = exactPattern(in.Type, in.Value)
		if in.Type == "url" {
			if p := URLPattern(in.Value); p != ind["pattern"] {
				ind["pattern"] = p
				ind["name"] = fmt.Sprintf("url links under %s in reported spam", in.Value)
			}
		}
		ind["pattern_type"] = "stix"
		ind["valid_from"] = stamp(in.First)
		rel := common(SlotRelationship, "relationship")
		rel["relationship_type"] = "based-on"
		rel["source_ref"] = ind["id"]
		rel["target_ref"] = sco["id"]
		return []map[string]any{sco, ind, rel}, nil
	case federation.KindCampaigns:
		var c struct {
			ID        string    `json:"id"`
			Subject   string    `json:"subject"`
			Reports   int       `json:"reports"`
			FirstSeen time.Time `json:"first_seen"`
			LastSeen  time.Time `json:"last_seen"`
			Source    string    `json:"source"`
		}
		if err := json.Unmarshal(it.Body, &c); err != nil {
			return nil, fmt.Errorf("stix: item %s: %w", it.Key, err)
		}
		o := common(SlotCampaign, "campaign")
		o["name"] = fmt.Sprintf("Spam campaign %s: %s", c.ID, c.Subject)
		o["description"] = fmt.Sprintf("%d reports to the %s authority's complaint desk; origins %s.", c.Reports, orUnknown([]string{c.Source}), orUnknown(it.Origins))
		o["first_seen"], o["last_seen"] = stamp(c.FirstSeen), stamp(c.LastSeen)
		o["objective"] = "unsolicited commercial communication"
		return []map[string]any{o}, nil
	case federation.KindReports:
		var r struct {
			ID            string   `json:"id"`
			Campaign      string   `json:"campaign"`
			ReceivedAt    string   `json:"received_at"`
			Subject       string   `json:"subject"`
			OriginIP      string   `json:"origin_ip"`
			OriginCountry string   `json:"origin_country"`
			Breaches      []string `json:"breaches"`
		}
		if err := json.Unmarshal(it.Body, &r); err != nil {
			return nil, fmt.Errorf("stix: item %s: %w", it.Key, err)
		}
		at, _ := time.Parse(time.RFC3339, r.ReceivedAt)
		o := common(SlotReport, "report")
		o["name"] = "Spam report " + r.ID + ": " + r.Subject
		o["description"] = fmt.Sprintf("Origin %s (%s). Findings against the law: %s.", orUnknown([]string{r.OriginIP}), orUnknown([]string{r.OriginCountry}),
			orUnknown(r.Breaches))
		o["report_types"] = []string{"campaign"}
		o["published"] = stamp(at)
		refs := []string{refs.ID("camp:"+r.Campaign, SlotCampaign)}
		if r.OriginIP != "" {
			typ := "ipv4-addr"
			if strings.Contains(r.OriginIP, ":") {
				typ = "ipv6-addr"
			}
			refs = append(refs, scoID(typ, r.OriginIP))
		}
		o["object_refs"] = refs
		return []map[string]any{o}, nil
	case federation.KindStatistics:
		var st federation.StatsBody
		if err := json.Unmarshal(it.Body, &st); err != nil {
			return nil, fmt.Errorf("stix: item %s: %w", it.Key, err)
		}
		o := common(SlotStatistics, StatsType)
		o["extensions"] = map[string]any{StatsExtensionID: map[string]any{"extension_type": "new-sdo"}}
		o["name"] = fmt.Sprintf("Spam reports to the %s authority's complaint desk", orUnknown([]string{st.Source}))
		if st.Reports != nil {
			o["reports"] = *st.Reports
		}
		if st.Campaigns != nil {
			o["campaigns"] = *st.Campaigns
		}
		cells := []map[string]any{}
		for _, c := range st.ByOrigin {
			cells = append(cells, map[string]any{"origin": c.Value, "reports": c.N})
		}
		o["reports_by_origin"] = cells
		o["cells_suppressed"] = st.Suppressed
		o["min_count"] = st.MinCount
		o["source"] = st.Source
		return []map[string]any{o}, nil
	}
	return nil, nil
}

func orUnknown(s []string) string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return "unknown"
	}
	return strings.Join(out, ", ")
}

// Bundle wraps objects with the given identity and the marking
// definitions they use.
func Bundle(identity map[string]any, objects []map[string]any) ([]byte, error) {
	used := map[string]bool{}
	for _, o := range objects {
		if refs, ok := o["object_marking_refs"].([]string); ok {
			for _, r := range refs {
				used[r] = true
			}
		}
	}
	all := []any{identity}
	for _, t := range []federation.TLP{federation.TLPClear, federation.TLPGreen, federation.TLPAmber, federation.TLPAmberStrict, federation.TLPRed} {
		raw, id, err := Marking(t)
		if err != nil {
			return nil, err
		}
		if used[id] {
			all = append(all, raw)
		}
	}
	for _, o := range objects {
		all = append(all, o)
	}
	return json.Marshal(map[string]any{"type": "bundle", "id": "bundle--" + uuid.NewString(), "objects": all})
}
