# Shell helpers shared by bench/bigdisk/run.sh and bench/stream/run.sh.
# Source it (". bench/lib.sh") from a bash script running with set -euo pipefail.
#
# The functions use these globals, which the script sets:
#   BENCH    name used in error messages
#   RESULTS  results folder (logs go to $RESULTS/logs, the log to $RESULTS/bench.log)
#   TSV      the results table (rec appends to it)
#   RUN      scratch folder on tmpfs, removed on exit
#   tmp      scratch folder for binaries, removed on exit
# and define on_exit (optional): run by cleanup after the servers stopped,
# before RUN and tmp are removed (to copy logs out of RUN).

die() { echo "${BENCH:-bench}: $*" >&2; exit 2; }

need_tools() { # TOOL... : each must be on PATH
  local tool
  for tool; do
    command -v "$tool" >/dev/null || die "$tool missing (apt-get install -y nginx curl)"
  done
}

ports_free() { # PORT... : none may be listening already
  local p
  for p; do
    if ss -Hltn "sport = :$p" | grep -q .; then
      die "port $p is already in use (another run?); see the *_PORT knobs"
    fi
  done
}

size_bytes() { # 100m -> 104857600, 1g -> 1073741824, 4k -> 4096
  local s=$1
  case $s in
    *k) echo $(( ${s%k} << 10 )) ;;
    *m) echo $(( ${s%m} << 20 )) ;;
    *g) echo $(( ${s%g} << 30 )) ;;
    *) echo "$s" ;;
  esac
}

log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$RESULTS/bench.log" >&2; }
rec() { local IFS=$'\t'; echo "$*" >>"$TSV"; } # FIELD... : one TSV row
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
kv() { sed -n 's/^RESULT //p' <<<"$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; } # bigload's RESULT line

# ------------------------------------------------------------------ processes
# Servers started with start_bg are stopped (TERM, then KILL after 5 s) on
# exit, or earlier with stop_bg. Only these PIDs are ever signalled.
PIDS=()
PIDNAMES=()
declare -A TPID=()
start_bg() { # NAME CMD... : start in the background (taskset execs into the server, so $! is the server)
  local name=$1; shift
  "$@" >>"$RESULTS/logs/$name.out" 2>&1 &
  PIDS+=($!); PIDNAMES+=("$name"); TPID[$name]=$!
}
stop_pids() { # PID... : TERM, wait up to 5 s, then KILL
  local pid alive
  for pid; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for pid; do kill -0 "$pid" 2>/dev/null && alive=1; done
    (( alive )) || break
    sleep 0.1
  done
  for pid; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "killing $pid with KILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
}
stop_bg() { # NAME : stop one server started with start_bg
  local i
  for i in "${!PIDNAMES[@]}"; do
    if [[ ${PIDNAMES[$i]} == "$1" ]]; then
      stop_pids "${PIDS[$i]}"
      unset 'PIDS[i]' 'PIDNAMES[i]'
    fi
  done
  unset 'TPID[$1]'
}
track_bg() { # NAME PID : a background job of the script (a function run with &), stopped on exit
  PIDS+=("$2"); PIDNAMES+=("$1")
}
forget_bg() { # NAME : the job ended by itself; stop tracking it
  local i
  for i in "${!PIDNAMES[@]}"; do
    [[ ${PIDNAMES[$i]} == "$1" ]] && unset 'PIDS[i]' 'PIDNAMES[i]'
  done
  return 0
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  (( ${#PIDS[@]} )) && stop_pids "${PIDS[@]}"
  wait 2>/dev/null || true
  if declare -F on_exit >/dev/null; then on_exit || true; fi
  [[ -n ${RUN:-} ]] && rm -rf "$RUN"
  [[ -n ${tmp:-} ]] && rm -rf "$tmp"
  exit "$rc"
}

wait_http() { # URL : any HTTP answer within 10 s
  local code
  for _ in $(seq 100); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true)
    [[ $code != 000 ]] && return 0
    sleep 0.1
  done
  die "not answering: $1"
}

# ------------------------------------------------------------------ accounting
# tree_ticks: CPU time (utime+stime, in clock ticks) of a process and its
# descendants (nginx workers). core_ticks: "busy idle softirq" ticks of one
# CPU from /proc/stat (busy = all but idle and iowait). Without
# CONFIG_IRQ_TIME_ACCOUNTING (this kernel), a tick that lands in softirq is
# added both to the core's softirq column and to the stime of the process it
# interrupted. On loopback, the TCP receive processing of the bytes the server
# sends runs in softirq on the server's core, in the server's context, so it
# is part of the server's utime+stime.
HZ=$(getconf CLK_TCK)
tree_pids() { # PID: it and its descendants
  ps -e -o pid=,ppid= | awk -v r="$1" '{ par[$1] = $2 } END {
      for (p in par) { q = p; while (q in par && q != r && q > 1) q = par[q]; if (q == r) print p } }'
}
tree_ticks() {
  tree_pids "$1" |
    while read -r p; do sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }'; done |
    awk '{ s += $1 } END { print s + 0 }'
}
core_ticks() { awk -v c="cpu$1" '$1 == c { print $2+$3+$4+$7+$8+$9, $5+$6, $8 }' /proc/stat; }

# rss_sum PID... : sets RSS_SUM to the sum of VmRSS (KiB) of the processes
# (missing ones count 0). Bash builtins only: no process is started, so it
# can sample every few milliseconds.
RSS_SUM=0
rss_sum() {
  local p k v _u
  RSS_SUM=0
  for p; do
    [[ -r /proc/$p/status ]] || continue
    while read -r k v _u; do
      if [[ $k == VmRSS: ]]; then RSS_SUM=$((RSS_SUM + v)); break; fi
    done </proc/"$p"/status 2>/dev/null || true
  done
}

# rss_watch SERIES FLAG INTERVAL MAXSEC PID... : while the file FLAG exists
# (and at most MAXSEC seconds), every INTERVAL seconds appends
# "<ms since start>\t<KiB>" (the summed VmRSS of the PIDs) to SERIES. Run it
# in the background; remove FLAG and wait for it. Sleeps with read -t on a
# pipe nobody writes to, so the loop starts no process.
rss_watch() {
  local series=$1 flag=$2 iv=$3 maxsec=$4 fd t0 now
  shift 4
  exec {fd}<> <(:)
  t0=${EPOCHREALTIME//[.,]/}
  while [[ -e $flag ]]; do
    rss_sum "$@"
    now=${EPOCHREALTIME//[.,]/}
    printf '%d\t%d\n' $(( (now - t0) / 1000 )) "$RSS_SUM" >>"$series"
    (( now - t0 < maxsec * 1000000 )) || break
    read -r -t "$iv" -u "$fd" _ || true
  done
  rss_sum "$@"
  now=${EPOCHREALTIME//[.,]/}
  printf '%d\t%d\n' $(( (now - t0) / 1000 )) "$RSS_SUM" >>"$series"
  exec {fd}<&-
}
series_max() { awk -F'\t' 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$1"; }
series_median() { cut -f2 "$1" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

# ------------------------------------------------------------------ builds
# build_strata OUT: builds ./cmd/strata of the repository at $root, or, with
# STRATA_REV=<git revision>, of that commit (git archive into $tmp/src), e.g.
# STRATA_REV=HEAD when work in progress elsewhere in the tree does not build.
# Sets strata_desc (what was built) and STRATA_EXTRA (flags that put the
# control plane `strata run` starts since 6a94441, an embedded NATS server
# and a REST API on fixed ports 4222 and 8081, on free ports instead).
build_strata() {
  local out=$1 src help
  STRATA_REV=${STRATA_REV:-}
  # (the "|| true" below: on a clean tree the grep fails, and under set -e
  # an assignment whose command substitution fails ends the script)
  if [[ -n $STRATA_REV ]]; then
    src=$tmp/src
    mkdir -p "$src"
    (cd "$root" && git archive "$STRATA_REV") | tar -x -C "$src"
    strata_desc="$(cd "$root" && git rev-parse --short "$STRATA_REV") (built from git archive $STRATA_REV)"
  else
    src=$root
    strata_desc="$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?') + work tree$( (cd "$root" && git status --porcelain 2>/dev/null | grep -q .) && echo ' (has uncommitted changes)' || true)"
  fi
  (cd "$src" && go build -o "$out" ./cmd/strata)
  STRATA_EXTRA=()
  help=$("$out" run -h 2>&1 || true)
  if grep -q -- '-nats-listen' <<<"$help"; then STRATA_EXTRA+=(--nats-listen 127.0.0.1:0); fi
  if grep -q -- '-api-listen' <<<"$help"; then STRATA_EXTRA+=(--api-listen 127.0.0.1:0); fi
}

# render_nginx_proxy DIR LISTEN ORIGIN: the shared proxy_cache config
# ($perf/nginx/proxy.conf.tmpl, 1 worker) rendered as the shared bench.sh
# does, for a run folder DIR/.. (the template puts everything in
# <run>/nginx-proxy, so DIR must be <something>/nginx-proxy). Start it with
#   nginx -c DIR/nginx.conf -e DIR/error.log -g 'daemon off;'
render_nginx_proxy() {
  local dir=$1 listen=$2 origin=$3
  [[ $(basename "$dir") == nginx-proxy ]] || die "render_nginx_proxy: $dir must end in /nginx-proxy"
  mkdir -p "$dir/cache"
  chown -R www-data:www-data "$dir"
  sed -e "s#@RUN@#$(dirname "$dir")#g" -e "s#@LISTEN@#$listen#g" -e "s#@ORIGIN@#$origin#g" -e "s#@WORKERS@#1#g" \
    "$perf/nginx/proxy.conf.tmpl" >"$dir/nginx.conf"
}

env_lines() { # machine, versions, load; the caller adds its own lines
  echo "date: $(date -Is)"
  echo "host: $(uname -srm); $(nproc) CPUs; $(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
  echo "cpu: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "versions: $(nginx -v 2>&1); $(go version); strata $strata_desc"
  echo "uptime at start: $(uptime)"
  echo "top at start:"; top -bn1 | head -15
}
