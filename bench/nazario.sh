#!/usr/bin/env bash
# bench/nazario.sh — lays out Jose Nazario's phishing corpus (spam only:
# phishing mail of November 2004 – November 2005 as his mailbox received it,
# full headers) as DIR/spam/FILE and prints the path of its TREC-style index,
# for
#   go run ./bench/operating -train "$(bench/corpus.sh)/index" -other nazario="$(bench/nazario.sh MBOX...)"
#
# MBOX... are the corpus's UNIX mbox files as published (see docs/filter.md,
# "Operating point": phishing0.mbox, 414 messages, and 20051114.mbox, 438).
# Each message becomes one file, NAME.NNNN.eml; the mailbox program's
# folder-internal message, if any, is left out. The corpus is never
# committed; the layout goes to the user cache, or to $NAZARIO_OUT.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: bench/nazario.sh MBOX..." >&2; exit 2; }
mboxes=()
for mbox in "$@"; do
  [ -f "$mbox" ] || { echo "bench/nazario.sh: $mbox not found" >&2; exit 1; }
  mboxes+=("$(cd "$(dirname "$mbox")" && pwd)/$(basename "$mbox")")
done
out=${NAZARIO_OUT:-${XDG_CACHE_HOME:-$HOME/.cache}/accord/nazario}
mkdir -p "$out" && out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
rm -rf "$out/spam" "$out/ham"
mkdir -p "$out/spam" "$out/ham"
for mbox in "${mboxes[@]}"; do
  name=$(basename "$mbox" .mbox)
  # mboxo: a message starts at a "From " line that opens the file or follows
  # an empty line; the separator line itself is not part of the message.
  LC_ALL=C awk -v dir="$out/spam" -v name="$name" '
    /^From / && (NR == 1 || prev == "") { if (file != "") close(file); n++; file = sprintf("%s/%s.%04d.eml", dir, name, n); prev = $0; next }
    file != "" { print > file }
    { prev = $0 }
  ' "$mbox"
done
# The folder-internal message a mail program keeps at the top of an mbox.
{ grep -l -a "FOLDER INTERNAL DATA" "$out"/spam/*.eml || true; } | xargs -r rm -f
echo "nazario: $(ls "$out/spam" | wc -l) spam" >&2
go run ./bench/corpusindex "$out" > "$out/index"
echo "$out/index"
