package label

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

var (
	nodeKey  = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	otherKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	dkimKey  = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	t0       = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
)

func dkimSign(t testing.TB, raw, domain, body string) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := dkim.Sign(&out, strings.NewReader(raw), &dkim.SignOptions{Domain: domain, Selector: "s1", Signer: dkimKey,
		HeaderKeys: []string{"From", "Subject"}, BodyCanonicalization: dkim.Canonicalization(body)}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func bhTag(raw []byte) string {
	i := bytes.Index(raw, []byte("bh="))
	j := bytes.IndexByte(raw[i:], ';')
	return string(raw[i+3 : i+j])
}

// The label's body hash is DKIM's: checked against go-msgauth's bh= on
// bodies that the canonicalizations treat differently.
func TestBodyHashIsDKIMs(t *testing.T) {
	for _, body := range []string{
		"Hello\r\n",
		"Hello  \t world \r\n\r\n\r\n",
		"",
		"\r\n",
		"no final line end",
		"tabs\tand  spaces   \r\nsecond line\t\r\n \r\n",
		"x\r\n\r\ny\r\n\r\n",
	} {
		raw := "From: a@shop.example\r\nSubject: s\r\n\r\n" + body
		for _, c := range []string{"simple", "relaxed"} {
			signed := dkimSign(t, raw, "shop.example", c)
			if got, want := BodyHash(Body([]byte(raw)), c), bhTag(signed); got != want {
				t.Errorf("%s %q: bh %s, DKIM says %s", c, body, got, want)
			}
		}
	}
	// Stored mail with bare LF hashes as its wire form.
	lf := "From: a@shop.example\nSubject: s\n\nline one  \nline two\n"
	if BodyHash(Body([]byte(lf)), "relaxed") != BodyHash(Body([]byte(strings.ReplaceAll(lf, "\n", "\r\n"))), "relaxed") {
		t.Error("LF and CRLF forms hash differently")
	}
}

const msg = "From: Shop <news@shop.example>\r\nSubject: Winter sale\r\n\r\nThe winter sale starts today.\r\n"

func issue(t testing.TB, key ed25519.PrivateKey, raw []byte, domain, canon string, expires time.Time) *Label {
	t.Helper()
	l := &Label{ID: "lab1", Sender: "shop.example", Domain: domain, Canon: canon, BodyHash: BodyHash(Body(raw), canon),
		HeadHash: HeaderHash(raw), Issued: t0, Expires: expires, StatusURL: "https://node.example/labels/v1/status"}
	l.Sign(key)
	return l
}

func TestLabelRoundTrip(t *testing.T) {
	raw := dkimSign(t, msg, "shop.example", "relaxed")
	l := issue(t, nodeKey, raw, "shop.example", "relaxed", t0.Add(72*time.Hour))
	field := l.Field()
	if !strings.HasPrefix(field, Header+": v=3; ") || !strings.HasSuffix(field, "\r\n") {
		t.Fatalf("field %q", field)
	}
	for _, line := range strings.Split(strings.TrimSuffix(field, "\r\n"), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line of %d characters: %q", len(line), line)
		}
	}
	// The folded value parses back, and the signature still verifies.
	v := strings.TrimPrefix(strings.TrimSuffix(field, "\r\n"), Header+": ")
	p, err := Parse(v)
	if err != nil || !p.VerifySignature(nodeKey.Public().(ed25519.PublicKey)) || p.BodyHash != l.BodyHash || !p.Expires.Equal(l.Expires) {
		t.Fatalf("parse: %+v %v", p, err)
	}
	for _, bad := range []string{"", "v=2; n=a", strings.Replace(l.Value(), "c=relaxed", "c=weird", 1), l.Value() + "; z=1",
		strings.Replace(l.Value(), "; b=", "; d=x.example; b=", 1), strings.Repeat("a", 3000)} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func verify(v *Verifier, raw []byte, from string, dkimResult string, values ...string) *Result {
	return v.Verify(Input{Raw: raw, Values: values, FromDomain: from, DKIM: []DKIM{{Domain: "shop.example", Result: dkimResult}}})
}

// The attacks: a label moved to another message or domain, forged or
// altered, expired, revoked, or from a node nobody trusts.
func TestVerifyAttacks(t *testing.T) {
	clock := t0.Add(time.Hour)
	v := NewVerifier(func() time.Time { return clock }, Issuer{Name: "this node", Key: nodeKey.Public().(ed25519.PublicKey), Status: statusAt(t, clock)})
	raw := dkimSign(t, msg, "shop.example", "relaxed")
	l := issue(t, nodeKey, raw, "shop.example", "relaxed", t0.Add(72*time.Hour))

	if r := verify(v, raw, "shop.example", "pass", l.Value()); r.Status != Valid || !r.DKIMVerified || !r.RevocationChecked {
		t.Fatalf("genuine label: %+v", r)
	}
	if r := verify(v, raw, "shop.example", "none", l.Value()); r.Status != Valid || r.DKIMVerified || !strings.Contains(r.Reason, "not verified") {
		t.Errorf("offline: %+v", r)
	}
	// A key in testing mode: unsigned, as offline, not a forgery.
	if r := verify(v, raw, "shop.example", "policy", l.Value()); r.Status != Valid || r.DKIMVerified || !strings.Contains(r.Reason, "testing mode") {
		t.Errorf("key in testing mode: %+v", r)
	}
	if r := verify(v, raw, "shop.example", "pass"); r != nil {
		t.Errorf("no label: %+v", r)
	}
	other := dkimSign(t, strings.Replace(msg, "starts today", "ends tomorrow", 1), "shop.example", "relaxed")
	forged := *l
	forged.Expires = t0.Add(365 * 24 * time.Hour)
	stranger := issue(t, otherKey, raw, "shop.example", "relaxed", t0.Add(72*time.Hour))
	for name, tc := range map[string]struct {
		raw    []byte
		from   string
		dkim   string
		value  string
		status string
	}{
		"moved to another message":          {other, "shop.example", "pass", l.Value(), Invalid},
		"moved to another From domain":      {raw, "evil.example", "pass", l.Value(), Invalid},
		"moved to mail signed by another":   {raw, "shop.example", "pass", strings.Replace(l.Value(), "d=shop.example", "d=mail.shop.example", 1), Invalid},
		"DKIM fails (message altered)":      {raw, "shop.example", "fail", l.Value(), Invalid},
		"expiry pushed back":                {raw, "shop.example", "pass", forged.Value(), Invalid},
		"signed by an untrusted node":       {raw, "shop.example", "pass", stranger.Value(), Untrusted},
		"body hash swapped for the other's": {other, "shop.example", "pass", strings.Replace(l.Value(), l.BodyHash, BodyHash(Body(other), "relaxed"), 1), Invalid},
	} {
		r := verify(v, tc.raw, tc.from, tc.dkim, tc.value)
		if r == nil || r.Status != tc.status {
			t.Errorf("%s: %+v", name, r)
		}
	}
	// The domain check: a message whose DKIM is by another domain only.
	r := v.Verify(Input{Raw: raw, Values: []string{l.Value()}, FromDomain: "shop.example", DKIM: []DKIM{{Domain: "evil.example", Result: "pass"}}})
	if r.Status != Invalid || !strings.Contains(r.Reason, "no DKIM signature by shop.example") {
		t.Errorf("no signature by the label's domain: %+v", r)
	}
	clock = t0.Add(73 * time.Hour)
	if r := verify(v, raw, "shop.example", "pass", l.Value()); r.Status != Expired {
		t.Errorf("after expiry: %+v", r)
	}
	clock = t0.Add(time.Hour)

	// Revocation through the signed status list.
	st, err := SignStatus(Status{IssuedAt: clock, NextUpdate: clock.Add(time.Hour), Labels: []RevokedLabel{{ID: "lab1", At: clock, Reason: "bought list"}}}, nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := jsonIndent(st)
	status, err := ReadStatus(bytes.NewReader(doc), nodeKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	v.SetIssuer(Issuer{Name: "this node", Key: nodeKey.Public().(ed25519.PublicKey), Status: status})
	if r := verify(v, raw, "shop.example", "pass", l.Value()); r.Status != Revoked || !r.RevocationChecked || !strings.Contains(r.Reason, "bought list") {
		t.Errorf("revoked label: %+v", r)
	}
	// A sender revocation covers its labels issued up to then, not later ones.
	st, _ = SignStatus(Status{IssuedAt: clock, NextUpdate: clock.Add(time.Hour), Senders: []RevokedSender{{Sender: "shop.example", At: t0}}}, nodeKey)
	doc, _ = jsonIndent(st)
	status, _ = ReadStatus(bytes.NewReader(doc), nodeKey.Public().(ed25519.PublicKey))
	v.SetIssuer(Issuer{Name: "this node", Key: nodeKey.Public().(ed25519.PublicKey), Status: status})
	if r := verify(v, raw, "shop.example", "pass", l.Value()); r.Status != Revoked {
		t.Errorf("label of a suspended sender: %+v", r)
	}
	later := *l
	later.Issued = t0.Add(time.Minute)
	later.Sign(nodeKey)
	if r := verify(v, raw, "shop.example", "pass", later.Value()); r.Status != Valid {
		t.Errorf("label issued after the sender's revocation: %+v", r)
	}
	// Status lists: edited, or signed by another key, are refused.
	edited := bytes.Replace(doc, []byte(`"sender": "shop.example"`), []byte(`"sender": "nobody.example"`), 1)
	if bytes.Equal(edited, doc) {
		t.Fatal("edit did not apply")
	}
	if _, err := ReadStatus(bytes.NewReader(edited), nodeKey.Public().(ed25519.PublicKey)); err == nil {
		t.Error("an edited status list was accepted")
	}
	if _, err := ReadStatus(bytes.NewReader(doc), otherKey.Public().(ed25519.PublicKey)); err == nil {
		t.Error("a status list was accepted under another key")
	}
	if !status.Stale(clock.Add(2*time.Hour)) || status.Stale(clock) {
		t.Error("staleness")
	}
}

func jsonIndent(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

// statusAt is the node's status list issued at, revoking what is given.
func statusAt(t testing.TB, at time.Time, revoked ...RevokedLabel) *Status {
	t.Helper()
	st, err := SignStatus(Status{IssuedAt: at, NextUpdate: at.Add(time.Hour), Labels: revoked}, nodeKey)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := jsonIndent(st)
	status, err := ReadStatus(bytes.NewReader(doc), nodeKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return status
}

// Revocation fails closed: without a status list, with a stale one, or
// with one older than the issuer's promise allows, a genuine label is not
// Valid but RevocationUnknown; a list from before a revocation cannot
// replace a newer one.
func TestRevocationUnknown(t *testing.T) {
	clock := t0.Add(time.Hour)
	key := nodeKey.Public().(ed25519.PublicKey)
	raw := dkimSign(t, msg, "shop.example", "relaxed")
	l := issue(t, nodeKey, raw, "shop.example", "relaxed", t0.Add(72*time.Hour))
	for name, tc := range map[string]struct {
		st   *Status
		want string
	}{
		"no status list":              {nil, RevocationUnknown},
		"a fresh list":                {statusAt(t, clock), Valid},
		"a list past its next update": {statusAt(t, clock.Add(-2*time.Hour)), RevocationUnknown},
		"a list promising a far next update": {func() *Status {
			s := statusAt(t, clock.Add(-25*time.Hour))
			s.NextUpdate = clock.Add(time.Hour)
			return s
		}(), RevocationUnknown},
		"a fresh list revoking it": {statusAt(t, clock, RevokedLabel{ID: "lab1", At: clock}), Revoked},
	} {
		v := NewVerifier(func() time.Time { return clock }, Issuer{Name: "this node", Key: key, Status: tc.st})
		if r := verify(v, raw, "shop.example", "pass", l.Value()); r.Status != tc.want {
			t.Errorf("%s: %+v", name, r)
		}
	}
	before, after := statusAt(t, clock.Add(-time.Minute)), statusAt(t, clock, RevokedLabel{ID: "lab1", At: clock})
	if before.Supersedes(after) || !after.Supersedes(before) || !after.Supersedes(nil) {
		t.Error("an older status list may replace a newer one")
	}
}

// The header hash is DKIM's relaxed canonicalization: RFC 6376 3.4.5's
// example header.
func TestRelaxedHeaderRFCExample(t *testing.T) {
	fields := headerFields([]byte("A: X\r\nB : Y\t\r\n\tZ  \r\n\r\nbody"))
	var got string
	for _, f := range fields {
		got += RelaxedHeader(f[0], f[1])
	}
	if got != "a:X\r\nb:Y Z\r\n" {
		t.Errorf("relaxed header %q", got)
	}
}

// A label moved to a message with the same body but other headers — a
// disguised From, another Subject, no opt-out — is refused, even when the
// sender's DKIM signature on it passes.
func TestLabelBindsHeaders(t *testing.T) {
	v := NewVerifier(func() time.Time { return t0.Add(time.Hour) }, Issuer{Name: "this node", Key: nodeKey.Public().(ed25519.PublicKey), Status: statusAt(t, t0.Add(time.Hour))})
	good := "From: Shop <news@shop.example>\r\nTo: alice2@example.net\r\nSubject: Winter sale\r\nList-Unsubscribe: <https://node.example/u/x>\r\n" +
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"AAA\"\r\n\r\n" +
		"--AAA\r\nContent-Type: text/plain\r\n\r\nThe winter sale starts today.\r\n--AAA--\r\n" +
		"--BBB\r\nContent-Type: text/plain\r\n\r\nYour account is suspended. Log in at http://paypal.evil.example/login\r\n--BBB--\r\n"
	raw := dkimSign(t, good, "shop.example", "relaxed")
	l := issue(t, nodeKey, raw, "shop.example", "relaxed", t0.Add(72*time.Hour))
	if r := verify(v, raw, "shop.example", "pass", l.Value()); r.Status != Valid {
		t.Fatalf("genuine label: %+v", r)
	}
	// Folding and spacing that relaxed canonicalization ignores keep it.
	refolded := strings.Replace(string(raw), "Subject: Winter sale", "Subject:  Winter\r\n\tsale", 1)
	if r := verify(v, []byte(refolded), "shop.example", "pass", l.Value()); r.Status != Valid {
		t.Errorf("refolded subject: %+v", r)
	}
	for name, edit := range map[string][2]string{
		"disguised From":   {"From: Shop <news@shop.example>", "From: \"PayPal Security\" <news@shop.example>"},
		"another Subject":  {"Subject: Winter sale", "Subject: Your account is suspended"},
		"no opt-out":       {"List-Unsubscribe: <https://node.example/u/x>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", ""},
		"a Reply-To added": {"Subject: Winter sale\r\n", "Subject: Winter sale\r\nReply-To: claims@evil.example\r\n"},
		"a second From":    {"Subject: Winter sale\r\n", "Subject: Winter sale\r\nFrom: other@shop.example\r\n"},
		"another opt-out":  {"/u/x>", "/u/y>"},
		// The same body read under another MIME structure: the BBB part,
		// which lint never judged, is what a mail reader shows.
		"another boundary":            {`boundary="AAA"`, `boundary="BBB"`},
		"another encoding":            {"MIME-Version: 1.0\r\n", "MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n"},
		"another recipient":           {"To: alice2@example.net", "To: never-consented@example.com"},
		"a Cc added":                  {"To: alice2@example.net\r\n", "To: alice2@example.net\r\nCc: others@example.com\r\n"},
		"'Subject :' prepended":       {"From: Shop", "Subject : Your account is suspended\r\nFrom: Shop"},
		"'Subject :' for the subject": {"Subject: Winter sale", "Subject : Your account is suspended"},
	} {
		moved := dkimSign(t, strings.Replace(good, edit[0], edit[1], 1), "shop.example", "relaxed")
		if r := verify(v, moved, "shop.example", "pass", l.Value()); r.Status != Invalid ||
			!strings.Contains(r.Reason, "are not the ones labelled") && !strings.Contains(r.Reason, "never labelled") {
			t.Errorf("%s: %+v", name, r)
		}
	}
	// Labels of versions 1 (body only) and 2 (no recipient, no MIME
	// fields) are refused.
	for _, old := range []string{"v=1", "v=2"} {
		if _, err := Parse(strings.Replace(l.Value(), "v=3", old, 1)); err == nil {
			t.Errorf("a label of version %s parsed", old)
		}
	}
}

// A field name is read as Accord's parser and DKIM read it: white space
// before the colon is not part of it; a header such readers would split
// differently is never labelled.
func TestHeaderNamesReadAsTheParserDoes(t *testing.T) {
	if a, b := HeaderHash([]byte("Subject : x\r\n\r\nbody")), HeaderHash([]byte("Subject: x\r\n\r\nbody")); a != b {
		t.Errorf("'Subject :' is not hashed as the Subject")
	}
	if a, b := HeaderHash([]byte("X-A: 1\r\nnot a field\r\nSubject: x\r\n\r\nbody")), HeaderHash([]byte("X-A: 1\r\n\r\nbody")); a != b {
		t.Errorf("a field after a line that ends the header was bound")
	}
	for raw, want := range map[string]string{
		"From: a@b.example\r\nSubject: x\r\n\r\nbody":                 "",
		"From: a@b.example\r\nSubject : x\r\n\r\nbody":                "white space before its colon",
		"From: a@b.example\r\nnot a field\r\nSubject: x\r\n\r\nbody":  "not a field",
		"From: a@b.example\r\nSubject: x\r\nsubject: y\r\n\r\nbody":   "subject twice",
		"From: a@b.example\r\nReceived: a\r\nReceived: b\r\n\r\nbody": "",
	} {
		if got := HeaderProblem([]byte(raw)); want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("HeaderProblem(%q) = %q, want %q", raw, got, want)
		}
	}
}
