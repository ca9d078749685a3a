# Accord's classifier through the same kind of client as the command-line
# rivals: one process per message, `accord score` and `accord learn` on a
# model file (a single message's learn is incremental; see the README).
# The class is spam at the classifier's own spam threshold.
ACCORD_BIN=${ACCORD_BIN:-bench/out/accord}
start_filter() { [ -x "$ACCORD_BIN" ] || go build -o "$ACCORD_BIN" ./cmd/accord; }
score() {
  local out
  if [ ! -e "$STATE/model.acm" ]; then echo "0.5 ham"; return; fi
  out=$("$ACCORD_BIN" score --model "$STATE/model.acm" "$1" 2>/dev/null) || { echo "NA error"; return; }
  set -- $out
  case ${2:-} in spam) echo "$1 spam" ;; ham|unsure) echo "$1 ham" ;; *) echo "NA error" ;; esac
}
train() { "$ACCORD_BIN" learn --model "$STATE/model.acm" "--$1" "$2" >/dev/null 2>>"$STATE/learn.err" || { cat "$STATE/learn.err" >&2; return 1; }; }
