#!/usr/bin/env bash
# Disk-hit throughput for 100 MiB objects (and 1 MiB, for comparison):
# Strata serving the object from its disk tier (its cache file, meant to go
# out by sendfile) beside nginx serving the same object from its proxy_cache
# file, in the same run. The shared harness (../shared/perf/bench.sh) cannot do this: its origin
# stops at 10 MiB. This script brings its own origin (bench/bigdisk/origin)
# and reuses the shared nginx config template and the shared bigload client;
# its shell helpers are in bench/lib.sh (shared with bench/stream/run.sh).
#
#   bench/bigdisk/run.sh                 # 3 rounds, about 3 minutes
#   ROUNDS=5 DUR=10 bench/bigdisk/run.sh
#
# Everything stays on 127.0.0.1. CPU 0: the server under test (Strata, or nginx
# with 1 worker), CPU 1: the origin and the client. Both caches live on tmpfs
# (/dev/shm). Every load run stops by itself after DUR seconds (and is killed
# if it has not ended DUR+60 s later); every curl has --max-time.
#
# Knobs (environment): ROUNDS=3 DUR=10 SIZES="100m 1m" CONNS_100m=4 CONNS_1m=16
#   BUF=65536 STRATA_PORT=18200 NGINX_PORT=18201 ORIGIN_PORT=18202
#   SERVER_CPU=0 CLIENT_CPU=1 MAX_FOREIGN=20 RETRIES=1 PERF_DIR=<shared perf dir>
#   RESULTS=<dir> (default bench/bigdisk/results/<run-id>, git-ignored)
#   STRATA_REV=<git revision>: build Strata from that commit (git archive into
#   a temporary folder) instead of the work tree, e.g. STRATA_REV=HEAD when
#   work in progress elsewhere in the tree does not build. The origin is always
#   built from this folder.
#   STRACE=1: after the measured rounds, one extra unmeasured 100 MiB load per
#   target with `strace -f -c -p <server pid>` attached for 3 s, to see which
#   syscalls move the body (sendfile, or read/pread + write). Saved as
#   logs/strace-<target>-100m.txt.
#
# For each round, size and target: two curl requests for a new key (the
# second must be a hit: Strata "X-Cache: Hit from strata", nginx
# "X-Cache-Status: HIT"; the origin must have seen exactly 1 request for the
# key), a 1 s pause, then `bigload -c N -d DUR -buf BUF` on that key while the
# server's CPU (utime+stime of its process tree) and both cores' busy time are
# sampled before and after. If more than MAX_FOREIGN % of the server core went
# to other processes (core busy minus the server's own CPU), the run is
# repeated on a fresh key (RETRIES times).
# The order of the two targets alternates from round to round.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
perf=${PERF_DIR:-$root/../shared/perf}
[[ -n ${PERF_DIR:-} || -d $perf ]] || perf=$root/../../shared/perf # from a worktree under /work/wt
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-10}
SIZES=${SIZES:-"100m 1m"}
CONNS_100m=${CONNS_100m:-4}
CONNS_1m=${CONNS_1m:-16}
BUF=${BUF:-65536}
STRATA_PORT=${STRATA_PORT:-18200}
NGINX_PORT=${NGINX_PORT:-18201}
ORIGIN_PORT=${ORIGIN_PORT:-18202}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
MAX_FOREIGN=${MAX_FOREIGN:-20}
RETRIES=${RETRIES:-1}
TARGETS=(strata nginx)

BENCH=bigdisk
. "$root/bench/lib.sh"
need_tools go nginx curl taskset ss awk
[[ -f $perf/nginx/proxy.conf.tmpl && -d $perf/bigload ]] || die "shared perf harness not found at $perf (set PERF_DIR)"
(( $(nproc) >= 2 )) || die "needs 2 CPUs (server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU)"
ports_free "$STRATA_PORT" "$NGINX_PORT" "$ORIGIN_PORT"

for s in $SIZES; do
  v=CONNS_$s
  [[ -n ${!v:-} ]] || die "no connection count for size $s (set $v)"
done

RUNID=$(date +%Y%m%d-%H%M%S)
RESULTS=${RESULTS:-$here/results/$RUNID}
mkdir -p "$RESULTS/logs"
TSV=$RESULTS/results.tsv
printf 'round\ttarget\tsize\tmetric\tvalue\n' >"$TSV"
tmp=$(mktemp -d)                           # binaries
RUN=$(mktemp -d /dev/shm/bigdisk-XXXXXX)   # caches (tmpfs), nginx config/logs
chmod 755 "$RUN"                           # nginx workers run as another user
on_exit() { [[ -s $RUN/nginx-proxy/error.log ]] && cp "$RUN/nginx-proxy/error.log" "$RESULTS/logs/nginx-error.log" 2>/dev/null; }
trap cleanup EXIT INT TERM

declare -A URL=() HITHDR=()

# ------------------------------------------------------------------ build
log "run $RUNID; run dir $RUN; results $RESULTS"
build_strata "$tmp/strata"
(cd "$root" && go build -o "$tmp/origin" ./bench/bigdisk/origin)
(cd "$perf" && go build -o "$tmp/bigload" ./bigload)

{
  env_lines
  echo "strata flags: run --config <copy of strata.yaml> --listen 127.0.0.1:$STRATA_PORT --data-dir <tmpfs> ${STRATA_EXTRA[*]} --log-level warn"
  echo "params: ROUNDS=$ROUNDS DUR=${DUR}s SIZES=\"$SIZES\" CONNS_100m=$CONNS_100m CONNS_1m=$CONNS_1m BUF=$BUF MAX_FOREIGN=$MAX_FOREIGN RETRIES=$RETRIES"
} >"$RESULTS/env.txt" 2>&1

# ------------------------------------------------------------------ servers
ORIGIN=127.0.0.1:$ORIGIN_PORT
start_bg origin taskset -c "$CLIENT_CPU" "$tmp/origin" -listen "$ORIGIN"
wait_http "http://$ORIGIN/stats"

# Strata: a copy of bench/disk-hit.yaml pointing at our origin. --listen is
# passed as well: before f34666a, `strata run --config` ignored pop.listen and
# listened on 127.0.0.1:8080.
mkdir -p "$RUN/strata"
sed -e "s#http://127.0.0.1:18202#http://$ORIGIN#" -e "s#listen: 127.0.0.1:18200#listen: 127.0.0.1:$STRATA_PORT#" \
  "$here/strata.yaml" >"$RUN/strata.yaml"
cp "$RUN/strata.yaml" "$RESULTS/logs/strata.yaml"
start_bg strata taskset -c "$SERVER_CPU" "$tmp/strata" run --config "$RUN/strata.yaml" \
  --listen "127.0.0.1:$STRATA_PORT" --data-dir "$RUN/strata" "${STRATA_EXTRA[@]}" --log-level warn
URL[strata]=http://127.0.0.1:$STRATA_PORT
HITHDR[strata]='^X-Cache: Hit from strata'

# nginx: the shared proxy_cache config, prepared as the shared bench.sh does.
render_nginx_proxy "$RUN/nginx-proxy" "127.0.0.1:$NGINX_PORT" "$ORIGIN"
cp "$RUN/nginx-proxy/nginx.conf" "$RESULTS/logs/nginx.conf"
start_bg nginx taskset -c "$SERVER_CPU" nginx -c "$RUN/nginx-proxy/nginx.conf" -e "$RUN/nginx-proxy/error.log" -g 'daemon off;'
URL[nginx]=http://127.0.0.1:$NGINX_PORT
HITHDR[nginx]='^X-Cache-Status: HIT'

wait_http "${URL[strata]}/stats"
wait_http "${URL[nginx]}/stats"
log "origin pid ${TPID[origin]}, strata pid ${TPID[strata]}, nginx pid ${TPID[nginx]}"

origin_count() { curl -s --max-time 5 -G --data-urlencode "path=$1" "http://$ORIGIN/stats"; }

# warm ROUND TARGET KEYPATH BYTES LOGNAME: two GETs, the second a hit of the
# full size, and exactly one origin fetch.
warm() {
  local r=$1 t=$2 path=$3 want=$4 name=$5 i got n
  for i in 1 2; do
    got=$(curl -s -o /dev/null -D "$RESULTS/logs/$name-warm$i.hdr" -w '%{size_download}' --max-time 120 "${URL[$t]}$path" || echo 0)
    [[ $got == "$want" ]] || { log "  $t $path: warm-up request $i got $got bytes, want $want"; return 1; }
  done
  if ! tr -d '\r' <"$RESULTS/logs/$name-warm2.hdr" | grep -qi "${HITHDR[$t]}"; then
    log "  $t $path: second request was not a hit: $(tr -d '\r' <"$RESULTS/logs/$name-warm2.hdr" | grep -i 'x-cache' | tr '\n' ' ')"
    return 1
  fi
  n=$(origin_count "$path")
  [[ $n == 1 ]] || { log "  $t $path: origin saw $n requests after warm-up, want 1"; return 1; }
}

# measure ROUND TARGET SIZE: warm a new key and load it; retries on foreign load.
measure() {
  local r=$1 t=$2 size=$3 attempt path name out s0 s1 c0 c1 k0 k1 t0 el
  local bytes want conns own busy cli sirq foreign reqs dus p99 errs fetches
  want=$(size_bytes "$size")
  conns=CONNS_$size; conns=${!conns}
  for attempt in $(seq 0 "$RETRIES"); do
    path=/obj/$size/$RUNID/r$r/$t/a$attempt
    name=r$r-$t-$size-a$attempt
    if ! warm "$r" "$t" "$path" "$want" "$name"; then
      rec "$r" "$t" "$size" failed 1; return 0
    fi
    sleep 1
    s0=$(tree_ticks "${TPID[$t]}"); c0=$(core_ticks "$SERVER_CPU"); k0=$(core_ticks "$CLIENT_CPU"); t0=$(date +%s%N)
    out=$(timeout -k 5 $((DUR + 60)) taskset -c "$CLIENT_CPU" "$tmp/bigload" -url "${URL[$t]}$path" \
      -c "$conns" -d "${DUR}s" -buf "$BUF" 2>&1) || true
    s1=$(tree_ticks "${TPID[$t]}"); c1=$(core_ticks "$SERVER_CPU"); k1=$(core_ticks "$CLIENT_CPU")
    el=$(( $(date +%s%N) - t0 ))
    echo "$out" >"$RESULTS/logs/$name.txt"
    if ! grep -q '^RESULT ' <<<"$out"; then
      log "  $t $size: bigload failed: $out"; rec "$r" "$t" "$size" failed 1; return 0
    fi
    own=$(calc "100 * ($s1 - $s0) / $HZ / ($el / 1e9)")
    # busy/softirq as % of the server core's ticks; own as % of wall time.
    set -- $c0 $c1
    busy=$(calc "100 * ($4 - $1) / (($4 - $1) + ($5 - $2) + 1e-9)")
    sirq=$(calc "100 * ($6 - $3) / (($4 - $1) + ($5 - $2) + 1e-9)")
    set -- $k0 $k1; cli=$(calc "100 * ($4 - $1) / (($4 - $1) + ($5 - $2) + 1e-9)")
    # Other processes on the server core (and softirq outside the server).
    foreign=$(calc "$busy - $own")
    if (( attempt < RETRIES )) && awk -v f="$foreign" -v m="$MAX_FOREIGN" 'BEGIN { exit !(f > m) }'; then
      log "  $t $size: ${foreign%.*}% of the server core went to other processes; repeating on a fresh key"
      rec "$r" "$t" "$size" retried 1
      continue
    fi
    reqs=$(kv "$out" requests); bytes=$(kv "$out" bytes); dus=$(kv "$out" duration_us)
    p99=$(kv "$out" p99_us); errs=$(( $(kv "$out" err_read) + $(kv "$out" err_status) ))
    fetches=$(origin_count "$path")
    rec "$r" "$t" "$size" mibps "$(calc "$bytes / ($dus / 1e6) / 1048576")"
    rec "$r" "$t" "$size" p50_ms "$(calc "$(kv "$out" p50_us) / 1000")"
    rec "$r" "$t" "$size" p99_ms "$(calc "$p99 / 1000")"
    rec "$r" "$t" "$size" requests "$reqs"
    rec "$r" "$t" "$size" errors "$errs"
    rec "$r" "$t" "$size" cpu_s_per_gib "$(calc "(($s1 - $s0) / $HZ) / ($bytes / 1073741824 + 1e-12)")"
    rec "$r" "$t" "$size" srvcore_softirq_pct "$sirq"
    rec "$r" "$t" "$size" srv_cpu_pct "$own"
    rec "$r" "$t" "$size" srvcore_busy_pct "$busy"
    rec "$r" "$t" "$size" clicore_busy_pct "$cli"
    rec "$r" "$t" "$size" foreign_pct "$foreign"
    rec "$r" "$t" "$size" origin_fetches "$fetches"
    log "  $t $size: $(calc "$bytes / ($dus / 1e6) / 1048576" | cut -d. -f1) MiB/s, p99 $(calc "$p99 / 1000" | sed 's/\(\.[0-9]\).*/\1/') ms, $reqs requests, $errs errors | server CPU ${own%.*}%, server core busy ${busy%.*}% (softirq ${sirq%.*}%, other processes ${foreign%.*}%), client core busy ${cli%.*}% | origin fetches $fetches$(awk -v c="$cli" -v o="$own" 'BEGIN { if (c >= 95 && o < 90) printf " | CLIENT-BOUND" }')"
    return 0
  done
}

# ------------------------------------------------------------------ rounds
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then order=("${TARGETS[@]}"); else order=(nginx strata); fi
  log "round $r/$ROUNDS: order ${order[*]}"
  for size in $SIZES; do
    for t in "${order[@]}"; do
      measure "$r" "$t" "$size"
      sleep 1
    done
  done
done

# ------------------------------------------------------------------ strace
if [[ ${STRACE:-0} == 1 ]]; then
  command -v strace >/dev/null || die "STRACE=1 needs strace (apt-get install -y strace)"
  for t in "${TARGETS[@]}"; do
    path=/obj/100m/$RUNID/strace/$t
    warm 0 "$t" "$path" "$(size_bytes 100m)" "strace-$t" || continue
    timeout -k 5 $((6 + 60)) taskset -c "$CLIENT_CPU" "$tmp/bigload" -url "${URL[$t]}$path" \
      -c "$CONNS_100m" -d 6s -buf "$BUF" >"$RESULTS/logs/strace-$t-100m-bigload.txt" 2>&1 &
    bl=$!
    sleep 2
    # every process of the tree (strace -f does not attach to existing nginx workers)
    timeout -s INT 3 strace -f -c $(tree_pids "${TPID[$t]}" | sed 's/^/-p /') -o "$RESULTS/logs/strace-$t-100m.txt" 2>/dev/null || true
    wait "$bl" || true
    log "strace -f -c, $t, 3 s of 100m load (unmeasured): $(awk '$NF ~ /^(sendfile|sendfile64|write|writev|pread64|read|splice|copy_file_range)$/ { printf "%s %s calls; ", $NF, $4 }' "$RESULTS/logs/strace-$t-100m.txt")"
  done
fi

# ------------------------------------------------------------------ report
# Medians over rounds, min-max, Strata/nginx ratio of the medians, and the
# per-round ratios (each within one round).
report() {
  awk -F'\t' -v sizes="$SIZES" -v rounds="$ROUNDS" -v conns100="$CONNS_100m" -v conns1="$CONNS_1m" -v buf="$BUF" -v dur="$DUR" '
    NR == 1 { next }
    { v[$2, $3, $4, $1] = $5; has[$2, $3, $4] = has[$2, $3, $4] " " $5; if ($4 == "failed") failed[$2, $3]++; if ($4 == "retried") retried[$2, $3]++ }
    function med(s,    a, n, i, j, t) { n = split(s, a, " "); if (n == 0) return ""
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    function mn(s,    a, n, i, m) { n = split(s, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]; return m }
    function mx(s,    a, n, i, m) { n = split(s, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]; return m }
    function cnt(s,    a) { return split(s, a, " ") }
    function f(x, d) { return x == "" ? "–" : sprintf("%." d "f", x) }
    function ratio(m, s,    a, b) { a = med(has["strata", s, m]); b = med(has["nginx", s, m]); return (a == "" || b == "" || b + 0 == 0) ? "–" : sprintf("%.2fx", a / b) }
    function perround(m, s,    r, o) { o = ""
      for (r = 1; r <= rounds; r++) o = o ((("strata", s, m, r) in v && ("nginx", s, m, r) in v && v["nginx", s, m, r] + 0 > 0) ? sprintf("%.2f ", v["strata", s, m, r] / v["nginx", s, m, r]) : "– ")
      return o }
    function row(label, m, s, d) {
      printf "| %s | %s | %s | %s | %s | %s |\n", label,
        f(med(has["strata", s, m]), d), f(mn(has["strata", s, m]), d) "–" f(mx(has["strata", s, m]), d),
        f(med(has["nginx", s, m]), d), f(mn(has["nginx", s, m]), d) "–" f(mx(has["nginx", s, m]), d), ratio(m, s) }
    END {
      n = split(sizes, S, " ")
      print "Medians over the rounds (min–max in the next column); ratio = Strata median / nginx median."
      print "Lower is better for p99 and CPU per GiB."
      print ""
      print "| metric | strata | strata min–max | nginx | nginx min–max | strata/nginx |"
      print "|---|---:|---:|---:|---:|---:|"
      for (i = 1; i <= n; i++) { s = S[i]; c = (s == "100m") ? conns100 : (s == "1m" ? conns1 : "?")
        lab = s " hit (bigload -c " c ")"
        row(lab ": MiB/s", "mibps", s, 0)
        row(lab ": p99 ms", "p99_ms", s, 1)
        row(lab ": p50 ms", "p50_ms", s, 1)
        row(lab ": server CPU s per GiB", "cpu_s_per_gib", s, 3)
        row(lab ": server CPU %", "srv_cpu_pct", s, 0)
        row(lab ": server core busy %", "srvcore_busy_pct", s, 0)
        row(lab ": server core softirq % (part of server CPU)", "srvcore_softirq_pct", s, 0)
        row(lab ": client core busy %", "clicore_busy_pct", s, 0)
        row(lab ": other processes on server core %", "foreign_pct", s, 0)
        row(lab ": requests in " dur " s", "requests", s, 0)
        row(lab ": client errors", "errors", s, 0)
        row(lab ": origin fetches for the key", "origin_fetches", s, 0)
      }
      print ""
      print "Per-round strata/nginx ratios (each within one round, rounds 1.." rounds "):"
      print ""
      print "| metric | ratios |"
      print "|---|---|"
      for (i = 1; i <= n; i++) { s = S[i]
        printf "| %s MiB/s | %s|\n", s, perround("mibps", s)
        printf "| %s CPU s/GiB | %s|\n", s, perround("cpu_s_per_gib", s)
        printf "| %s p99 | %s|\n", s, perround("p99_ms", s) }
      print ""
      printf "Rounds measured per target and size:"
      for (i = 1; i <= n; i++) printf " %s strata %d, nginx %d;", S[i], cnt(has["strata", S[i], "mibps"]), cnt(has["nginx", S[i], "mibps"])
      nf = 0; nr = 0
      for (i = 1; i <= n; i++) { nf += failed["strata", S[i]] + failed["nginx", S[i]]; nr += retried["strata", S[i]] + retried["nginx", S[i]] }
      printf " failed: %d; repeated for other load: %d\n", nf, nr
      cb = ""
      for (i = 1; i <= n; i++) for (r = 1; r <= rounds; r++) for (k = 0; k < 2; k++) { t = k ? "nginx" : "strata"
        if ((t, S[i], "clicore_busy_pct", r) in v && v[t, S[i], "clicore_busy_pct", r] >= 95 && v[t, S[i], "srv_cpu_pct", r] < 90)
          cb = cb sprintf(" round %d %s %s (server CPU %.0f%%, client core %.0f%%);", r, t, S[i], v[t, S[i], "srv_cpu_pct", r], v[t, S[i], "clicore_busy_pct", r]) }
      print ""
      print "Client-bound runs (client core >= 95 % busy while the server used < 90 % of its core; the figure measures the client more than the server):" (cb == "" ? " none" : cb)
    }' "$TSV"
}
log "done; uptime: $(uptime)"
report | tee "$RESULTS/table.md"
echo
echo "results: $RESULTS (results.tsv, table.md, env.txt, logs/)"
