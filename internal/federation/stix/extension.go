package stix

import "time"

// The statistics a node shares travel in TAXII feeds as a new STIX domain
// object defined by a STIX 2.1 extension (docs/stix-statistics.md). The
// extension definition and the identity of its author (the Accord
// project) are the same on every node, so a consumer that learned them
// from one node knows them for all.
const (
	StatsType        = "accord-spam-statistics"
	StatsExtensionID = "extension-definition--17471a37-6226-4186-9add-12142ab74264"
	AccordIdentityID = "identity--8e22542d-132a-4183-9fbd-51f160bcb0a0"
)

// defined is when the extension and its author were defined.
var defined = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// AccordIdentity is the author of the statistics extension.
func AccordIdentity() map[string]any {
	return map[string]any{"type": "identity", "spec_version": "2.1", "id": AccordIdentityID, "created": stamp(defined), "modified": stamp(defined),
		"name": "Accord", "identity_class": "organization",
		"description": "The Accord open-source anti-spam platform, author of the accord-spam-statistics STIX extension."}
}

// StatsExtension is the extension definition of accord-spam-statistics.
func StatsExtension() map[string]any {
	return map[string]any{"type": "extension-definition", "spec_version": "2.1", "id": StatsExtensionID, "created": stamp(defined), "modified": stamp(defined),
		"created_by_ref": AccordIdentityID, "name": "Accord spam statistics", "version": "1.0.0", "extension_types": []string{"new-sdo"},
		"description": "Counts of spam reports received by an authority's complaint desk, by origin country of the spam, with every count at least " +
			"min_count: smaller cells are folded into the origin \"other\" (with the next smallest when one alone would be recomputable).",
		"schema": "Accord docs/stix-statistics.md and docs/stix-statistics.schema.json (JSON Schema 2020-12). Properties besides the common ones: " +
			"name (string), reports (integer, absent when below min_count), campaigns (integer, absent when below min_count), " +
			"reports_by_origin (list of {origin: ISO 3166 alpha-2 code, \"unknown\" or \"other\"; reports: integer >= min_count}), " +
			"cells_suppressed (integer), min_count (integer >= 5), source (the reporting node's jurisdiction)."}
}
