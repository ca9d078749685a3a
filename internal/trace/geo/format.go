package geo

// The embedded database is one gzip stream of sections, each a uvarint count
// followed by its records. Range starts are delta-encoded uvarints, sorted;
// every range runs to the next start, so gaps are ranges with value 0.
//
//	magic "ACCGEO1\n"
//	source   uvarint length + text (where the data came from, its licence)
//	countries  count, then 2 bytes per country (index 0 is "unknown", "--")
//	v4country  count, then (delta start uvarint, country index byte)
//	v6country  count, then (delta start-of-/64 uvarint, country index byte)
//	asnames    count, then (asn uvarint, name length uvarint, name)
//	v4asn      count, then (delta start uvarint, asn uvarint)
//	v6asn      count, then (delta start-of-/64 uvarint, asn uvarint)
//
// IPv6 is kept at /64 granularity: a finer range takes the /64 it starts in.

// Magic starts every database file.
const Magic = "ACCGEO1\n"
