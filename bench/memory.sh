#!/usr/bin/env bash
# memory.sh [ACCORD_BINARY] — peak resident memory of `accord check` on
# hostile 32 MiB messages, one at a time and all together with 1, 2 and 4
# workers, beside the documented heap bound (README, `accord check`):
#   flood     32 MiB of MIME delimiter lines ("--a")
#   qp-html   quoted-printable HTML full of links
#   cp1252    a single-byte charset that grows when converted to UTF-8
#   nested    attached messages nested in base64, seven deep
#   links     a page of 700,000 distinct links
#   text      plain text
# Builds ./cmd/accord unless a binary is given (to measure an older one).
# Needs GNU time (/usr/bin/time, Debian package "time").
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
[ -x /usr/bin/time ] || { echo "memory.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
bin=${1:-}
if [ -z "$bin" ]; then
  go build -o "$dir/accord" ./cmd/accord
  bin="$dir/accord"
fi
mkdir "$dir/in"
S=$((32 * 1024 * 1024))
gen() { # NAME HEADER LINE...
  local name=$1 head=$2 line=$3
  { printf '%b' "$head"; { yes -- "$line" || true; } | head -c $((S - ${#head})); } > "$dir/in/$name.eml"
}
gen flood 'From: a@example.com\nSubject: flood\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="a"\n\n' '--a'
gen qp-html 'From: a@example.com\nSubject: s\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n' '<p>hi <a href=3D"http://x.example/">x</a></p>='
gen text 'From: a@example.com\nSubject: s\nContent-Type: text/plain\n\n' 'hello world http://x.example/a a@b.example'
{ printf 'From: a@example.com\nSubject: s\nContent-Type: text/html; charset=windows-1252\n\n'
  { yes "$(printf '\x80\x80\x80\x80<b>\x80</b>')" || true; } | head -c $((S - 80)); } > "$dir/in/cp1252.eml"
{ printf 'From: a@example.com\nSubject: s\nContent-Type: text/html\n\n'
  { seq 1 2000000 | awk '{printf "<a href=\"http://h%d.example/p%d\">l%d</a>\n", $1, $1, $1}' || true; } | head -c $((S - 70)); } > "$dir/in/links.eml"
{ printf 'From: a@example.com\nSubject: s\n\n'; { yes 'word word word word' || true; } | head -c $((4 * 1024 * 1024)); } > "$dir/n0"
for i in 1 2 3 4 5 6 7; do
  { printf 'From: a@example.com\nSubject: s\nMIME-Version: 1.0\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n'
    base64 -w 76 "$dir/n$((i - 1))"; } > "$dir/n$i"
done
cp "$dir/n7" "$dir/in/nested.eml"

peak() { # WORKERS FILES... -> peak RSS in MiB
  local w=$1; shift
  /usr/bin/time -f '%M' -o "$dir/rss" "$bin" check --json --workers "$w" "$@" > /dev/null 2>&1 || true
  echo $(( $(tail -1 "$dir/rss") / 1024 ))
}
bound() { echo $(( $1 * 208 + 96 )); }
echo "| input | size | workers | peak RSS (MiB) | heap bound (MiB) |"
echo "|---|---|---|---|---|"
for f in flood qp-html cp1252 nested links text; do
  sz=$(( $(stat -c %s "$dir/in/$f.eml") / 1024 / 1024 ))
  echo "| $f | $sz MiB | 1 | $(peak 1 "$dir/in/$f.eml") | $(bound 1) |"
done
for w in 1 2 4; do
  echo "| all six | 6 × 32 MiB | $w | $(peak "$w" "$dir/in") | $(bound "$w") |"
done
