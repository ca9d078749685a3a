#!/usr/bin/env bash
# bench/csdmc.sh — lays out the CSDMC2010 SPAM corpus's labelled TRAINING
# part (4,327 messages: 2,949 ham, 1,378 spam) as DIR/{ham,spam}/FILE and
# prints the path of its TREC-style index (index.a and index.b beside it are
# its two halves, even and odd file numbers), for
#   go run ./bench/operating -train "$(bench/corpus.sh)/index" -other csdmc="$(bench/csdmc.sh SRC)"
#
# SRC is the corpus's folder as published (see docs/filter.md, "Operating
# point": the folder CSDMC2010_SPAM/CSDMC2010_SPAM holding TRAINING/ and
# SPAMTrain.label, whose lines are "LABEL FILE" with 1 = ham, 0 = spam; the
# repository's copy writes them "LABEL,FILE" under a "stat,name" heading, and
# both forms are read).
# The corpus is never committed; the layout (symbolic links to SRC) goes to
# the user cache, or OUT.
set -euo pipefail
src=${1:?usage: bench/csdmc.sh CSDMC2010_SPAM-folder [OUT]}
out=${2:-${XDG_CACHE_HOME:-$HOME/.cache}/accord/csdmc}
# Both as given, before the script moves to the repository's root.
src=$(cd "$src" && pwd)
mkdir -p "$out" && out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
label="$src/SPAMTrain.label"
train=$(cd "$src/TRAINING" && pwd)
[ -f "$label" ] || { echo "bench/csdmc.sh: $label not found" >&2; exit 1; }
rm -rf "$out/ham" "$out/spam"
mkdir -p "$out/ham" "$out/spam"
while read -r cls file; do
  case $cls in
    1) ln -s "$train/$file" "$out/ham/$file" ;;
    0) ln -s "$train/$file" "$out/spam/$file" ;;
  esac
done < <(tr ',\r' '  ' < "$label")
echo "csdmc: $(ls "$out/ham" | wc -l) ham, $(ls "$out/spam" | wc -l) spam" >&2
go run ./bench/corpusindex "$out" > "$out/index"
# Two halves by the parity of the file's number (TRAIN_NNNNN): a change is
# decided on the learned corpus and half a; half b is reported apart, as
# mail nothing was decided on.
awk '{n=$2; gsub(/[^0-9]/,"",n); if (n%2==0) print}' "$out/index" > "$out/index.a"
awk '{n=$2; gsub(/[^0-9]/,"",n); if (n%2==1) print}' "$out/index" > "$out/index.b"
echo "$out/index"
