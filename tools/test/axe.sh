#!/usr/bin/env bash
# tools/test/axe.sh — fetch axe-core (the accessibility rules engine, MPL-2.0)
# once with `npm pack` into the user cache and print the path of its
# axe.min.js. The browser tests inject it into the public pages through the
# DevTools protocol (the pages' CSP allows no script of their own).
set -euo pipefail
VERSION=4.14.1
DEST=${XDG_CACHE_HOME:-$HOME/.cache}/accord/axe-core-$VERSION
if [ ! -s "$DEST/axe.min.js" ]; then
  command -v npm >/dev/null || { echo "axe.sh: npm is needed to fetch axe-core" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "axe-core@$VERSION" >/dev/null && tar xzf "axe-core-$VERSION.tgz")
  mkdir -p "$DEST"
  cp "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$DEST/"
fi
echo "$DEST/axe.min.js"
