# SpamAssassin 4 through spamd on loopback, network tests off, Bayes on
# (learning only through the harness), the rules of the Debian package.
SA_PORT=${SA_PORT:-17783}
start_filter() {
  mkdir -p "$STATE/site" "$STATE/bayes"
  cp -r /etc/spamassassin/* "$STATE/site/" 2>/dev/null || true
  cat > "$STATE/site/zz-bench.cf" <<CF
dns_available no
skip_rbl_checks 1
use_razor2 0
use_pyzor 0
use_bayes 1
bayes_auto_learn 0
bayes_path $STATE/bayes/bayes
bayes_file_mode 0777
lock_method flock
CF
  chmod -R a+rwX "$STATE"
  spamd --local --nouser-config --allow-tell --max-children 2 --listen "127.0.0.1:$SA_PORT" \
    --siteconfigpath "$STATE/site" -u nobody --pidfile "$STATE/spamd.pid" -d 2>/dev/null
  for _ in $(seq 1 120); do
    spamc -p "$SA_PORT" -K >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "spamd did not start" >&2
  return 1
}
stop_filter() { [ -f "$STATE/spamd.pid" ] && kill "$(cat "$STATE/spamd.pid")" 2>/dev/null || true; }
score() {
  local r rc=0
  # spamc -c exits 0 (ham) or 1 (spam); anything else is a failure, which
  # -x stops spamc from hiding behind a "0/0" answer.
  r=$(spamc -p "$SA_PORT" -x -c < "$1" 2>/dev/null) || rc=$?
  local s=${r%%/*}
  if [ "$rc" -gt 1 ] || ! [[ "$s" =~ ^-?[0-9.]+$ ]]; then echo "NA error"; return; fi
  if awk -v s="$s" 'BEGIN { exit !(s >= 5.0) }'; then echo "$s spam"; else echo "$s ham"; fi
}
train() { spamc -p "$SA_PORT" -x -L "$1" < "$2" >/dev/null 2>&1; }
