package nodetest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/intake"
)

// The forwards of the fourth attack review: Jean Dubois forwards a parcel
// scam with the spam attached and the subject "Signalement spam";
// Hortense Quibel forwards one quoted under Outlook's header block. The
// spams' links carry the forwarders' names, as spams bought with a list
// of names do.
const (
	attachedForward = "From: Jean Dubois <jean.dubois@reporter-fr.example>\r\nTo: report@desk.example\r\nSubject: Signalement spam\r\n" +
		"Date: Tue, 24 Nov 2026 11:00:00 +0000\r\nMessage-ID: <fwd2@reporter-fr.example>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"OUTER\"\r\n\r\n--OUTER\r\nContent-Type: text/plain\r\n\r\nVoici un spam. Jean Dubois\r\n" +
		"--OUTER\r\nContent-Type: message/rfc822\r\n\r\n" +
		"Received: from mx.fr.example (mx.fr.example [10.0.0.5]) by in.fr.example with ESMTP id z1; Tue, 24 Nov 2026 10:00:02 +0000\r\n" +
		"Received: from relay.example ([12.0.9.1]) by mx.fr.example with SMTP id z2; Tue, 24 Nov 2026 10:00:01 +0000\r\n" +
		"From: La Poste Colis <colis@colis3-mailer.example>\r\nTo: emilie.dupre@citizen-fr.example\r\nSubject: Votre colis attend\r\n" +
		"Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <c3@colis3-scam.example>\r\n\r\n" +
		"Bonjour, votre colis attend. Payez ici: http://colis3-scam.example/r/jean.dubois/ref http://colis3-scam.example/r2/JeanDubois/ref " +
		"http://colis3-scam.example/pay\r\n--OUTER--\r\n"
	outlookForward = "From: Hortense Quibel <hortense.quibel@reporter-de.example>\r\nTo: report@desk.example\r\nSubject: bitte prüfen\r\n" +
		"Date: Tue, 24 Nov 2026 11:00:00 +0000\r\nMessage-ID: <fwd3@reporter-de.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"Schon wieder. Hortense Quibel\r\n\r\n________________________________\r\nVon: Paket Dienst <info@paket4-mailer.example>\r\n" +
		"Gesendet: Dienstag, 24. November 2026 10:00\r\nAn: Hortense <hortense.quibel@reporter-de.example>\r\nBetreff: Ihr Paket wartet\r\n\r\n" +
		"Zahlen Sie hier: http://paket4-scam.example/k/hortense-quibel/zahlen http://paket4-scam.example/k2/HQuibel/zahlen " +
		"http://paket4-scam.example/zahlen\r\n"
)

// forwarderNeedles must leave in no form: the forwarders' addresses,
// local parts and names.
var forwarderNeedles = []string{"jean.dubois", "jeandubois", "dubois", "hortense", "quibel"}

// TestForwardersNeverShared: forwards uploaded through the API and the
// form — whatever their subject — are unwrapped, their forwarders kept as
// the reporters, and nothing the node shares names them: not the reports,
// indicators, campaigns nor the redacted evidence (fourth attack review:
// "Signalement spam" was taken as the spam itself, and
// /r/jean.dubois/ref went to a personal_data = false partner).
func TestForwardersNeverShared(t *testing.T) {
	ctx := context.Background()
	fr := newNode(t, &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}, "fr", "FR")
	for _, ch := range []intake.Channel{intake.ChannelAPI, intake.ChannelWeb} {
		for _, raw := range []string{attachedForward, outlookForward} {
			rec, err := fr.desk.Submit(ctx, intake.Submission{Channel: ch, Raw: []byte(raw), SubmittedBy: "token:t1"})
			if err != nil {
				t.Fatal(err)
			}
			r, err := fr.store.Report(ctx, rec.Reports[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if r.Form == intake.FormRaw || r.ReporterID == "" {
				t.Errorf("%s: a forward stored as %s with reporter %q", ch, r.Form, r.ReporterID)
			}
		}
	}
	sh, err := federation.Collect(ctx, fr.store, "FR")
	if err != nil {
		t.Fatal(err)
	}
	var links []string
	n := 0
	for _, g := range sh.ItemsFor(nil) {
		for _, it := range g.Items {
			if it.Kind == federation.KindEvidence {
				made, err := sh.Bodies(ctx, []federation.Item{it})
				if err != nil {
					t.Fatal(err)
				}
				it = made[0]
				var ev struct{ Redacted string }
				json.Unmarshal(it.Body, &ev)
				red, _ := base64.StdEncoding.DecodeString(ev.Redacted)
				leaks(t, it.Key+" (evidence)", string(red))
			}
			if it.Kind == federation.KindIndicators {
				var in struct{ Value string }
				json.Unmarshal(it.Body, &in)
				links = append(links, in.Value)
			}
			leaks(t, it.Key, string(it.Body))
			n++
		}
	}
	// The spams' runs are still named, cut before the names.
	for _, l := range []string{"http://colis3-scam.example/r/", "http://paket4-scam.example/k/"} {
		if !strings.Contains(strings.Join(links, " "), l) {
			t.Errorf("indicator %s not shared: %v", l, links)
		}
	}
	if n < 10 {
		t.Errorf("only %d items shared: the test proves nothing", n)
	}
}

func leaks(t *testing.T, what, s string) {
	t.Helper()
	low := strings.ToLower(s)
	if u, err := url.QueryUnescape(low); err == nil {
		low += "\n" + u
	}
	for _, n := range forwarderNeedles {
		if strings.Contains(low, n) {
			t.Errorf("%s names the forwarder (%q):\n%s", what, n, s)
		}
	}
}
