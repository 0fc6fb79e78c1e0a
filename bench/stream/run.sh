#!/usr/bin/env bash
# Large bodies through the edge (issue "Origins"), Strata beside nginx in the
# same run:
#   get  a 1 GiB object through a cold edge (a cache miss: the edge streams it
#        from the origin to the client while it writes its cache copy), one
#        client (curl);
#   put  a 1 GiB upload (curl -T from tmpfs) through the edge to the origin.
# For each: the client's throughput (MiB/s), and the memory the server
# process tree holds meanwhile: the sum of VmRSS of the process and its
# children, sampled every 50 ms, its peak minus the idle value sampled for
# 1 s just before the request. The target for Strata: under 64 MiB above idle.
#
#   bench/stream/run.sh                  # 3 rounds, about 3 minutes
#   ROUNDS=1 SIZE=256m bench/stream/run.sh
#
# Targets (TARGETS, in this order in round 1, rotated by one each round):
#   strata          `strata run --config bench/stream/strata.yaml` (its main
#                   sets GOGC=400 unless GOGC is set; this target unsets GOGC)
#   strata-gogc100  the same binary with GOGC=100 in its environment
#   nginx           the shared proxy_cache config (../shared/perf/nginx/
#                   proxy.conf.tmpl, 1 worker, cache on tmpfs) plus a
#                   `location /upload/` with proxy_request_buffering off,
#                   proxy_cache off, client_max_body_size 0
#   direct          curl straight to the origin: the ceiling of the client
#                   and origin on their core (no server, no RSS)
# Every measurement starts its server afresh on an empty cache (a new key as
# well) and stops it afterwards, so "idle" is a fresh process's and the
# tmpfs holds at most one cached copy at a time.
#
# The origin is bench/bigdisk/origin (GET /obj/<size>/<key>, PUT /upload/<key>
# answering 201 and the byte count). Everything stays on 127.0.0.1. CPU 0:
# the server under test; CPU 1: the origin, curl and the RSS sampler. Every
# curl has --max-time; the sampler stops by itself after MAX_TIME+10 s.
# Checks, each a failed measurement if wrong: get: status 200, the full
# size, X-Cache "Miss from strata" / X-Cache-Status MISS, exactly one origin
# request for the key; put: status 201 and the origin's byte count equal to
# the file size (and its SHA-256 with PUT_SHA256=1), one origin request.
# After each get, a HEAD (not measured) tells whether the object was stored
# (a hit, no second origin request).
#
# Knobs (environment): ROUNDS=3 SIZE=1024m (k/m suffix; the origin stops at
#   1 GiB) TESTS="get put" TARGETS="strata strata-gogc100 nginx direct"
#   SETTLE=2 (s after the server answers) IDLE_SEC=1 INTERVAL=0.05
#   MAX_TIME=120 PUT_SHA256=0 SERVER_CPU=0 CLIENT_CPU=1 MAX_FOREIGN=20
#   RETRIES=1 (repeat a measurement, on a fresh key, when more than
#   MAX_FOREIGN % of the server core went to other processes)
#   STRATA_PORT=18210 NGINX_PORT=18211 ORIGIN_PORT=18212
#   PERF_DIR=<shared perf dir> STRATA_REV=<git revision> (build Strata from
#   that commit, see bench/lib.sh)
#   RESULTS=<dir> (default bench/stream/results/<run-id>, git-ignored)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
perf=${PERF_DIR:-$root/../shared/perf}
[[ -n ${PERF_DIR:-} || -d $perf ]] || perf=$root/../../shared/perf # from a worktree under /work/wt
ROUNDS=${ROUNDS:-3}
SIZE=${SIZE:-1024m}
TESTS=${TESTS:-"get put"}
read -r -a TARGETS <<<"${TARGETS:-strata strata-gogc100 nginx direct}"
SETTLE=${SETTLE:-2}
IDLE_SEC=${IDLE_SEC:-1}
INTERVAL=${INTERVAL:-0.05}
MAX_TIME=${MAX_TIME:-120}
PUT_SHA256=${PUT_SHA256:-0}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
MAX_FOREIGN=${MAX_FOREIGN:-20}
RETRIES=${RETRIES:-1}
STRATA_PORT=${STRATA_PORT:-18210}
NGINX_PORT=${NGINX_PORT:-18211}
ORIGIN_PORT=${ORIGIN_PORT:-18212}

BENCH=stream
. "$root/bench/lib.sh"
need_tools go nginx curl taskset ss awk sha256sum
[[ -f $perf/nginx/proxy.conf.tmpl ]] || die "shared perf harness not found at $perf (set PERF_DIR)"
(( $(nproc) >= 2 )) || die "needs 2 CPUs (server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU)"
ports_free "$STRATA_PORT" "$NGINX_PORT" "$ORIGIN_PORT"
BYTES=$(size_bytes "$SIZE")
[[ $SIZE =~ ^[0-9]+[km]?$ ]] && (( BYTES > 0 && BYTES <= 1 << 30 )) || die "SIZE=$SIZE: want a byte count with an optional k or m suffix, at most 1024m"
for t in "${TARGETS[@]}"; do
  case $t in strata | strata-gogc100 | nginx | direct) ;; *) die "unknown target $t" ;; esac
done
for t in $TESTS; do
  case $t in get | put) ;; *) die "unknown test $t" ;; esac
done
shm_free=$(df -k --output=avail /dev/shm | tail -1)
(( shm_free > 3 * BYTES / 1024 )) || die "/dev/shm has $((shm_free >> 10)) MiB free; needs 3x SIZE"

RUNID=$(date +%Y%m%d-%H%M%S)
RESULTS=${RESULTS:-$here/results/$RUNID}
mkdir -p "$RESULTS/logs"
TSV=$RESULTS/results.tsv
printf 'round\ttarget\ttest\tmetric\tvalue\n' >"$TSV"
tmp=$(mktemp -d)                          # binaries
RUN=$(mktemp -d /dev/shm/stream-XXXXXX)   # caches, the upload file, nginx config/logs (tmpfs)
chmod 755 "$RUN"                          # nginx workers run as another user
on_exit() { [[ -s $RUN/nginx-proxy/error.log ]] && cp "$RUN/nginx-proxy/error.log" "$RESULTS/logs/nginx-error.log" 2>/dev/null; }
trap cleanup EXIT INT TERM

# ------------------------------------------------------------------ build
log "run $RUNID; run dir $RUN; results $RESULTS"
build_strata "$tmp/strata"
(cd "$root" && go build -o "$tmp/origin" ./bench/bigdisk/origin)
{
  env_lines
  echo "strata flags: run --config <copy of strata.yaml> --listen 127.0.0.1:$STRATA_PORT --data-dir <tmpfs, empty> ${STRATA_EXTRA[*]} --log-level warn"
  echo "params: ROUNDS=$ROUNDS SIZE=$SIZE ($BYTES bytes) TESTS=\"$TESTS\" TARGETS=\"${TARGETS[*]}\" SETTLE=$SETTLE IDLE_SEC=$IDLE_SEC INTERVAL=$INTERVAL MAX_TIME=$MAX_TIME PUT_SHA256=$PUT_SHA256 MAX_FOREIGN=$MAX_FOREIGN RETRIES=$RETRIES"
} >"$RESULTS/env.txt" 2>&1

# ------------------------------------------------------------------ origin, configs
ORIGIN=127.0.0.1:$ORIGIN_PORT
start_bg origin taskset -c "$CLIENT_CPU" "$tmp/origin" -listen "$ORIGIN"
wait_http "http://$ORIGIN/stats"
origin_count() { curl -s --max-time 5 -G --data-urlencode "path=$1" "http://$ORIGIN/stats"; }

sed -e "s#http://127.0.0.1:18212#http://$ORIGIN#" -e "s#listen: 127.0.0.1:18210#listen: 127.0.0.1:$STRATA_PORT#" \
  "$here/strata.yaml" >"$RUN/strata.yaml"
cp "$RUN/strata.yaml" "$RESULTS/logs/strata.yaml"

render_nginx_proxy "$RUN/nginx-proxy" "127.0.0.1:$NGINX_PORT" "$ORIGIN"
# The upload location goes before the template's `location / {`.
awk '/^ *location \/ \{/ && !done {
    print "        location /upload/ {"
    print "            proxy_pass http://origin;"
    print "            proxy_http_version 1.1;"
    print "            proxy_set_header Connection \"\";"
    print "            proxy_request_buffering off;   # stream the body to the origin"
    print "            proxy_cache off;"
    print "            client_max_body_size 0;        # no limit (default 1m)"
    print "        }"
    print ""
    done = 1 }
  { print }
  END { if (!done) exit 1 }' "$RUN/nginx-proxy/nginx.conf" >"$RUN/nginx-proxy/nginx.conf.new" ||
  die "no 'location / {' in $perf/nginx/proxy.conf.tmpl"
mv "$RUN/nginx-proxy/nginx.conf.new" "$RUN/nginx-proxy/nginx.conf"
cp "$RUN/nginx-proxy/nginx.conf" "$RESULTS/logs/nginx.conf"
nginx -t -c "$RUN/nginx-proxy/nginx.conf" -e "$RUN/nginx-proxy/error.log" >"$RESULTS/logs/nginx-t.out" 2>&1 ||
  die "nginx -t failed: $(cat "$RESULTS/logs/nginx-t.out")"

declare -A URL=(
  [strata]=http://127.0.0.1:$STRATA_PORT [strata-gogc100]=http://127.0.0.1:$STRATA_PORT
  [nginx]=http://127.0.0.1:$NGINX_PORT [direct]=http://$ORIGIN)
declare -A MISSHDR=([strata]='^X-Cache: Miss from strata' [strata-gogc100]='^X-Cache: Miss from strata'
  [nginx]='^X-Cache-Status: MISS' [direct]='')
declare -A HITHDR=([strata]='^X-Cache: Hit from strata' [strata-gogc100]='^X-Cache: Hit from strata'
  [nginx]='^X-Cache-Status: HIT' [direct]='')

# start_target T: a fresh server with an empty cache; sets SPID (none for direct).
start_target() {
  local t=$1
  SPID=
  case $t in
    strata | strata-gogc100)
      rm -rf "$RUN/strata-data"; mkdir -p "$RUN/strata-data"
      local envs=(env -u GOGC)
      [[ $t == strata-gogc100 ]] && envs=(env GOGC=100)
      start_bg "$t" taskset -c "$SERVER_CPU" "${envs[@]}" "$tmp/strata" run --config "$RUN/strata.yaml" \
        --listen "127.0.0.1:$STRATA_PORT" --data-dir "$RUN/strata-data" "${STRATA_EXTRA[@]}" --log-level warn
      ;;
    nginx)
      rm -rf "$RUN/nginx-proxy/cache"; mkdir -p "$RUN/nginx-proxy/cache"; chown www-data:www-data "$RUN/nginx-proxy/cache"
      start_bg nginx taskset -c "$SERVER_CPU" nginx -c "$RUN/nginx-proxy/nginx.conf" -e "$RUN/nginx-proxy/error.log" -g 'daemon off;'
      ;;
    direct) return 0 ;;
  esac
  SPID=${TPID[$t]}
  wait_http "${URL[$t]}/stats"
}
stop_target() {
  [[ $1 == direct ]] && return 0
  stop_bg "$1"
  rm -rf "$RUN/strata-data" "$RUN/nginx-proxy/cache"
}

# sample_rss SERIES SECONDS|- PID...: with a duration, samples for that long
# and returns; with "-", starts the sampler in the background (SAMPLER_PID)
# until stop_sampler.
sample_rss() {
  local series=$1 dur=$2 flag
  shift 2
  flag=$RUN/sampling.$$
  : >"$flag"
  rss_watch "$series" "$flag" "$INTERVAL" $((MAX_TIME + 10)) "$@" &
  SAMPLER_PID=$!
  track_bg rss-watch "$SAMPLER_PID"
  taskset -pc "$CLIENT_CPU" "$SAMPLER_PID" >/dev/null 2>&1 || true
  if [[ $dur != - ]]; then
    sleep "$dur"
    stop_sampler
  fi
}
stop_sampler() {
  rm -f "$RUN/sampling.$$"
  wait "$SAMPLER_PID" 2>/dev/null || true
  forget_bg rss-watch
}

mib() { calc "$1 / 1024" | sed 's/\(\.[0-9]\).*/\1/'; } # KiB -> MiB, 1 decimal

# ------------------------------------------------------------------ the upload file
# The origin's own SIZE object, fetched directly: it also makes the origin
# generate (and keep) that body before anything is measured.
log "fetching the $SIZE upload file from the origin"
got=$(taskset -c "$CLIENT_CPU" curl -s -o "$RUN/upload.bin" --max-time "$MAX_TIME" -w '%{size_download}' \
  "http://$ORIGIN/obj/$SIZE/$RUNID/upload-file" || echo 0)
[[ $got == "$BYTES" ]] || die "upload file: got $got bytes from the origin, want $BYTES"
upload_sha=
if [[ $PUT_SHA256 == 1 ]]; then upload_sha=$(sha256sum "$RUN/upload.bin" | cut -d' ' -f1); fi

# ------------------------------------------------------------------ one measurement
# measure ROUND TARGET TEST
measure() {
  local r=$1 t=$2 test=$3 attempt name path url out code size speed secs
  local idle peak last s0 s1 c0 c1 el own busy foreign n hdr resp want_body fetches stored
  for attempt in $(seq 0 "$RETRIES"); do
    name=r$r-$t-$test-a$attempt
    if [[ $test == get ]]; then path=/obj/$SIZE/$RUNID/r$r/$t/a$attempt; else path=/upload/$RUNID/r$r/$t/a$attempt; fi
    url=${URL[$t]}$path
    [[ $test == put && $PUT_SHA256 == 1 ]] && url+='?sha256=1'
    start_target "$t"
    idle=0 peak=0 last=0
    if [[ -n $SPID ]]; then
      sleep "$SETTLE"
      mapfile -t pids < <(tree_pids "$SPID")
      sample_rss "$RESULTS/logs/$name-idle.rss" "$IDLE_SEC" "${pids[@]}"
      idle=$(series_median "$RESULTS/logs/$name-idle.rss")
      sample_rss "$RESULTS/logs/$name.rss" - "${pids[@]}"
      s0=$(tree_ticks "$SPID")
    fi
    c0=$(core_ticks "$SERVER_CPU")
    hdr=$RESULTS/logs/$name.hdr
    resp=$RESULTS/logs/$name.body
    if [[ $test == get ]]; then
      out=$(taskset -c "$CLIENT_CPU" curl -s -o /dev/null -D "$hdr" --max-time "$MAX_TIME" \
        -w '%{http_code} %{size_download} %{speed_download} %{time_total}' "$url" 2>&1) || true
    else
      out=$(taskset -c "$CLIENT_CPU" curl -s -T "$RUN/upload.bin" -o "$resp" -D "$hdr" --max-time "$MAX_TIME" \
        -w '%{http_code} %{size_upload} %{speed_upload} %{time_total}' "$url" 2>&1) || true
    fi
    c1=$(core_ticks "$SERVER_CPU")
    if [[ -n $SPID ]]; then
      s1=$(tree_ticks "$SPID")
      stop_sampler
      peak=$(series_max "$RESULTS/logs/$name.rss")
      last=$(tail -1 "$RESULTS/logs/$name.rss" | cut -f2)
    fi
    read -r code size speed secs <<<"$out"
    # checks
    local fail=
    if [[ $test == get ]]; then
      [[ $code == 200 ]] || fail+=" status $code;"
      [[ $size == "$BYTES" ]] || fail+=" $size bytes, want $BYTES;"
      if [[ -n ${MISSHDR[$t]} ]] && ! tr -d '\r' <"$hdr" | grep -qi "${MISSHDR[$t]}"; then
        fail+=" not a miss: $(tr -d '\r' <"$hdr" | grep -i '^x-cache' | tr '\n' ' ');"
      fi
    else
      [[ $code == 201 ]] || fail+=" status $code;"
      want_body=$BYTES
      [[ $PUT_SHA256 == 1 ]] && want_body="$BYTES $upload_sha"
      [[ $(cat "$resp" 2>/dev/null) == "$want_body" ]] || fail+=" origin answered '$(head -c 200 "$resp" 2>/dev/null)', want '$want_body';"
    fi
    fetches=$(origin_count "$path")
    [[ $fetches == 1 ]] || fail+=" origin saw $fetches requests for the key, want 1;"
    stored=
    if [[ $test == get && -n ${HITHDR[$t]} && -z $fail ]]; then
      sleep 0.5
      if curl -s -I --max-time 10 "$url" | tr -d '\r' | grep -qi "${HITHDR[$t]}" && [[ $(origin_count "$path") == 1 ]]; then
        stored=1
      else
        stored=0
      fi
    fi
    stop_target "$t"
    if [[ -n $fail ]]; then
      log "  $t $test: FAILED:$fail (curl: $out)"
      rec "$r" "$t" "$test" failed 1
      return 0
    fi
    # other processes on the server core during the transfer
    el=$(calc "$secs")
    set -- $c0 $c1
    busy=$(calc "100 * ($4 - $1) / (($4 - $1) + ($5 - $2) + 1e-9)")
    own=0
    [[ -n $SPID ]] && own=$(calc "100 * ($s1 - $s0) / $HZ / ($el + 1e-9)")
    foreign=$(calc "$busy - $own")
    [[ -z $SPID ]] && foreign=0
    if (( attempt < RETRIES )) && awk -v f="$foreign" -v m="$MAX_FOREIGN" 'BEGIN { exit !(f > m) }'; then
      log "  $t $test: ${foreign%.*}% of the server core went to other processes; repeating on a fresh key"
      rec "$r" "$t" "$test" retried 1
      continue
    fi
    rec "$r" "$t" "$test" mibps "$(calc "$speed / 1048576")"
    rec "$r" "$t" "$test" seconds "$secs"
    if [[ -n $SPID ]]; then
      n=$(wc -l <"$RESULTS/logs/$name.rss")
      rec "$r" "$t" "$test" rss_idle_mib "$(calc "$idle / 1024")"
      rec "$r" "$t" "$test" rss_peak_mib "$(calc "$peak / 1024")"
      rec "$r" "$t" "$test" rss_above_idle_mib "$(calc "($peak - $idle) / 1024")"
      rec "$r" "$t" "$test" rss_end_mib "$(calc "$last / 1024")"
      rec "$r" "$t" "$test" rss_samples "$n"
      rec "$r" "$t" "$test" cpu_s_per_gib "$(calc "(($s1 - $s0) / $HZ) / ($BYTES / 1073741824)")"
      rec "$r" "$t" "$test" srv_cpu_pct "$own"
      rec "$r" "$t" "$test" foreign_pct "$foreign"
    fi
    [[ -n $stored ]] && rec "$r" "$t" "$test" stored "$stored"
    log "  $t $test: $(calc "$speed / 1048576" | cut -d. -f1) MiB/s in ${secs}s$( [[ -n $SPID ]] &&
      echo " | RSS idle $(mib "$idle") MiB, peak $(mib "$peak") MiB (+$(mib $((peak - idle))) MiB, $n samples), at the end $(mib "$last") MiB | server CPU ${own%.*}%, other processes on its core ${foreign%.*}%")$( [[ -n $stored ]] && echo " | stored: $stored")"
    return 0
  done
}

# ------------------------------------------------------------------ rounds
log "uptime: $(uptime)"
nt=${#TARGETS[@]}
for r in $(seq 1 "$ROUNDS"); do
  order=()
  for i in $(seq 0 $((nt - 1))); do order+=("${TARGETS[$(((i + r - 1) % nt))]}"); done
  log "round $r/$ROUNDS: order ${order[*]}"
  for test in $TESTS; do
    for t in "${order[@]}"; do
      measure "$r" "$t" "$test"
    done
  done
done
log "done; uptime: $(uptime)"

# ------------------------------------------------------------------ report
report() {
  awk -F'\t' -v targets="${TARGETS[*]}" -v tests="$TESTS" -v size="$SIZE" '
    NR == 1 { next }
    { has[$2, $3, $4] = has[$2, $3, $4] " " $5 }
    function med(s,    a, n, i, j, t) { n = split(s, a, " "); if (n == 0) return ""
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    function mn(s,    a, n, i, m) { n = split(s, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 < m + 0) m = a[i]; return m }
    function mx(s,    a, n, i, m) { n = split(s, a, " "); m = a[1]; for (i = 2; i <= n; i++) if (a[i] + 0 > m + 0) m = a[i]; return m }
    function cnt(s,    a) { return split(s, a, " ") }
    function cell(t, x, m, d,    s) { s = has[t, x, m]; if (s == "") return "–"
      if (cnt(s) == 1) return sprintf("%." d "f", med(s))
      return sprintf("%." d "f (%." d "f–%." d "f)", med(s), mn(s), mx(s)) }
    function row(label, x, m, d,    i) { printf "| %s |", label
      for (i = 1; i <= nt; i++) printf " %s |", cell(T[i], x, m, d); print "" }
    END {
      nt = split(targets, T, " "); nx = split(tests, X, " ")
      print "Medians over the rounds (min–max in brackets). RSS: sum of VmRSS of the server process"
      print "and its children; idle = median over 1 s before the request, on a freshly started server."
      print ""
      printf "| " size " |"; for (i = 1; i <= nt; i++) printf " %s |", T[i]; print ""
      printf "|---|"; for (i = 1; i <= nt; i++) printf "---:|"; print ""
      for (k = 1; k <= nx; k++) { x = X[k]; lab = (x == "get") ? "GET, cold miss" : "PUT upload"
        row(lab ": MiB/s", x, "mibps", 0)
        row(lab ": peak RSS above idle, MiB", x, "rss_above_idle_mib", 1)
        row(lab ": idle RSS, MiB", x, "rss_idle_mib", 1)
        row(lab ": peak RSS, MiB", x, "rss_peak_mib", 1)
        row(lab ": RSS when the transfer ended, MiB", x, "rss_end_mib", 1)
        row(lab ": server CPU s per GiB", x, "cpu_s_per_gib", 3)
        row(lab ": other processes on the server core, %", x, "foreign_pct", 0)
        if (x == "get") row(lab ": stored (a HEAD after it was a hit)", x, "stored", 0)
      }
      print ""
      for (i = 1; i <= nt; i++) if (T[i] ~ /^strata/) for (k = 1; k <= nx; k++) {
        s = has[T[i], X[k], "rss_above_idle_mib"]; if (s == "") continue
        m = med(s); printf "%s %s: peak RSS %.1f MiB above idle (median): %s the 64 MiB target.\n", T[i], X[k], m, (m < 64 ? "within" : "ABOVE") }
      for (i = 1; i <= nt; i++) if (T[i] != "nginx") for (k = 1; k <= nx; k++) {
        a = med(has[T[i], X[k], "mibps"]); b = med(has["nginx", X[k], "mibps"])
        if (a != "" && b != "" && b + 0 > 0) printf "%s %s: %.2fx nginx'"'"'s MiB/s.\n", T[i], X[k], a / b }
      printf "Measured:"
      for (i = 1; i <= nt; i++) for (k = 1; k <= nx; k++) printf " %s %s %d;", T[i], X[k], cnt(has[T[i], X[k], "mibps"])
      nf = 0; nr = 0
      for (i = 1; i <= nt; i++) for (k = 1; k <= nx; k++) { nf += cnt(has[T[i], X[k], "failed"]); nr += cnt(has[T[i], X[k], "retried"]) }
      printf " failed: %d; repeated for other load: %d\n", nf, nr
    }' "$TSV"
}
report | tee "$RESULTS/table.md"
echo
echo "results: $RESULTS (results.tsv, table.md, env.txt, bench.log, logs/ with the RSS series)"
