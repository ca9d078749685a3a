#!/usr/bin/env bash
# update.sh — rebuild internal/trace/geo/data/geo.bin.gz from the newest
# ip-location-db packages on the npm registry (npm pack only; nothing else is
# downloaded). Run from the repository root.
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for p in geo-whois-asn-country asn; do
  (cd "$tmp" && npm pack --silent "@ip-location-db/$p" >/dev/null)
  mkdir -p "$tmp/$p"
  tar -xzf "$tmp"/ip-location-db-"$p"-*.tgz -C "$tmp/$p" --strip-components=1
done
cv=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$tmp/geo-whois-asn-country/package.json")
av=$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$tmp/asn/package.json")
go run ./tools/geodata -country "$tmp/geo-whois-asn-country" -asn "$tmp/asn" \
  -source "countries: ip-location-db geo-whois-asn-country $cv (CC0-1.0; RIR data by NRO, CC BY 4.0); networks: ip-location-db asn $av (CC BY 4.0: RouteViews, DB-IP.com)" \
  -out internal/trace/geo/data/geo.bin.gz
