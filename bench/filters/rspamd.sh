# rspamd 3.4 with its packaged configuration, Bayes in its own redis on
# loopback, and every module that needs the network switched off (DNS goes
# to 127.0.0.1, where nothing answers). Scores with /checkv2, learns through
# the controller; the class is spam at the "add header" action (6).
# RSPAMD_LEARN_TYPE=bulk makes it learn every message (Learn-Type: bulk).
RS_PORT=${RS_PORT:-21333}
RS_CTL=${RS_CTL:-21334}
RS_REDIS=${RS_REDIS:-16379}
start_filter() {
  local c=$STATE/conf
  mkdir -p "$c/local.d" "$c/override.d" "$STATE/db" "$STATE/run" "$STATE/log" "$STATE/redis"
  redis-server --port "$RS_REDIS" --bind 127.0.0.1 --save '' --appendonly no --dir "$STATE/redis" --daemonize yes \
    --pidfile "$STATE/redis.pid" >/dev/null
  cat > "$c/local.d/worker-normal.inc" <<CF
bind_socket = "127.0.0.1:$RS_PORT";
count = ${RS_COUNT:-1};
CF
  cat > "$c/local.d/worker-controller.inc" <<CF
bind_socket = "127.0.0.1:$RS_CTL";
secure_ip = "127.0.0.1";
CF
  echo 'enabled = false;' > "$c/local.d/worker-proxy.inc"
  echo 'enabled = false;' > "$c/local.d/worker-fuzzy.inc"
  cat > "$c/local.d/options.inc" <<CF
dns { nameserver = ["127.0.0.1:53"]; timeout = 0.1s; retransmits = 0; }
CF
  echo "servers = \"127.0.0.1:$RS_REDIS\";" > "$c/local.d/redis.conf"
  cat > "$c/local.d/classifier-bayes.conf" <<CF
backend = "redis";
servers = "127.0.0.1:$RS_REDIS";
autolearn = false;
CF
  for m in rbl surbl emails spf dkim dmarc arc asn fuzzy_check once_received dkim_signing url_redirector \
           phishing hfilter multimap neural replies dcc history_redis mx_check greylist ratelimit reputation \
           rspamd_update ip_score clickhouse elastic metadata_exporter external_services antivirus; do
    echo 'enabled = false;' > "$c/local.d/$m.conf"
  done
  rspamd -c /etc/rspamd/rspamd.conf --var LOCAL_CONFDIR="$c" --var DBDIR="$STATE/db" --var RUNDIR="$STATE/run" \
    --var LOGDIR="$STATE/log" -u root -g root --insecure >/dev/null 2>&1
  for _ in $(seq 1 120); do
    curl -s "http://127.0.0.1:$RS_PORT/ping" 2>/dev/null | grep -q pong && return 0
    sleep 1
  done
  echo "rspamd did not start; see $STATE/log" >&2
  tail -20 "$STATE/log/rspamd.log" >&2
  return 1
}
stop_filter() {
  [ -f "$STATE/run/rspamd.pid" ] && kill "$(cat "$STATE/run/rspamd.pid")" 2>/dev/null
  [ -f "$STATE/redis.pid" ] && kill "$(cat "$STATE/redis.pid")" 2>/dev/null
  sleep 1
  true
}
score() {
  local r s
  r=$(curl -s -f --data-binary @"$1" "http://127.0.0.1:$RS_PORT/checkv2") || { echo "NA error"; return; }
  s=$(printf '%s' "$r" | grep -o '"score":[-0-9.e]*' | head -1 | cut -d: -f2)
  if [ -z "$s" ]; then echo "NA error"; return; fi
  if awk -v s="$s" 'BEGIN { exit !(s >= 6.0) }'; then echo "$s spam"; else echo "$s ham"; fi
}
train() {
  local hdr=() code
  [ "${RSPAMD_LEARN_TYPE:-}" = bulk ] && hdr=(-H "Learn-Type: bulk")
  code=$(curl -s -o /dev/null -w '%{http_code}' "${hdr[@]}" --data-binary @"$2" "http://127.0.0.1:$RS_CTL/learn$1") || return 1
  # 204 and 208: rspamd declined (already in class, already learned) — not failures.
  case $code in 200|204|208) return 0 ;; *) return 1 ;; esac
}
