#!/usr/bin/env bash
# Memory under miss churn (issue 11): RSS of one Strata process while DUR
# seconds of CONNS-connection wrk load ask for distinct 1 MiB objects (every
# request a cache miss; the shared test origin serves them), with the default
# cache sizes (quick mode: memoryCacheSize 256MiB, diskCacheSize 1GiB, the
# disk tier and the spill files on tmpfs, which RSS does not count).
#
#   bench/memory/run.sh                        # this work tree
#   STRATA_REV=e517845 bench/memory/run.sh     # a commit (see bench/lib.sh)
#   STRATA_ENV="GOMEMLIMIT=off" bench/memory/run.sh
#   MODE=hit SIZE=1k CONNS=50 bench/memory/run.sh  # hits of one object instead
#
# Reports the idle RSS (after SETTLE s), the peak and median RSS sampled every
# INTERVAL s during the load, the RSS 2 s after it, requests/s and MiB/s, and
# the non-2xx count (wrk). CPU SERVER_CPU runs Strata, CLIENT_CPU the origin
# and wrk. Everything stays on 127.0.0.1; wrk stops by itself after DUR s and
# the sampler after DUR+10 s.
#
# Knobs (environment): MODE=churn (or hit: every request for one object,
#   fetched once before the load) DUR=10 CONNS=200 SIZE=1m (a size the shared origin
#   serves: 1k 4k 16k 64k 100k 256k 1m 10m) SETTLE=2 INTERVAL=0.05
#   SERVER_CPU=0 CLIENT_CPU=1 STRATA_PORT=18310 ORIGIN_PORT=18311
#   STRATA_ENV="" (extra environment for Strata, e.g. GOGC=100)
#   STRATA_FLAGS="" (extra flags for strata run) STRATA_REV PERF_DIR RESULTS
#   STRATA_BIN=<a strata binary> (use it instead of building; for A/B runs
#   on a loaded machine, where building a revision takes minutes)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
perf=${PERF_DIR:-$root/../shared/perf}
[[ -n ${PERF_DIR:-} || -d $perf ]] || perf=$root/../../shared/perf # from a worktree under /work/wt
MODE=${MODE:-churn}
DUR=${DUR:-10}
CONNS=${CONNS:-200}
SIZE=${SIZE:-1m}
SETTLE=${SETTLE:-2}
INTERVAL=${INTERVAL:-0.05}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
STRATA_PORT=${STRATA_PORT:-18310}
ORIGIN_PORT=${ORIGIN_PORT:-18311}
STRATA_ENV=${STRATA_ENV:-}
STRATA_FLAGS=${STRATA_FLAGS:-}

BENCH=memory
. "$root/bench/lib.sh"
need_tools go wrk curl taskset ss awk
[[ -d $perf/origin ]] || die "shared perf harness not found at $perf (set PERF_DIR)"
ports_free "$STRATA_PORT" "$ORIGIN_PORT"

RUNID=$(date +%Y%m%d-%H%M%S)
RESULTS=${RESULTS:-$here/results/$RUNID}
mkdir -p "$RESULTS/logs"
TSV=$RESULTS/results.tsv
printf 'metric\tvalue\n' >"$TSV"
tmp=$(mktemp -d)
RUN=$(mktemp -d /dev/shm/memory-XXXXXX)
trap cleanup EXIT INT TERM

log "run $RUNID; run dir $RUN; results $RESULTS"
if [[ -n ${STRATA_BIN:-} ]]; then
  cp "$STRATA_BIN" "$tmp/strata"
  strata_desc="$STRATA_BIN (prebuilt)"
  STRATA_EXTRA=(--nats-listen 127.0.0.1:0 --api-listen 127.0.0.1:0)
else
  build_strata "$tmp/strata"
fi
(cd "$perf" && go build -o "$tmp/origin" ./origin)
{
  env_lines
  echo "strata: env ${STRATA_ENV:-(GOGC, GOMEMLIMIT unset)}; run --origin http://127.0.0.1:$ORIGIN_PORT --listen 127.0.0.1:$STRATA_PORT --data-dir <tmpfs> ${STRATA_EXTRA[*]} --log-level warn $STRATA_FLAGS"
  echo "params: MODE=$MODE DUR=${DUR}s CONNS=$CONNS SIZE=$SIZE SERVER_CPU=$SERVER_CPU CLIENT_CPU=$CLIENT_CPU"
} >"$RESULTS/env.txt" 2>&1

start_bg origin taskset -c "$CLIENT_CPU" "$tmp/origin" -addr "127.0.0.1:$ORIGIN_PORT"
wait_http "http://127.0.0.1:$ORIGIN_PORT/stats"
# shellcheck disable=SC2086 # STRATA_ENV and STRATA_FLAGS are lists
start_bg strata env -u GOGC -u GOMEMLIMIT $STRATA_ENV taskset -c "$SERVER_CPU" "$tmp/strata" run \
  --origin "http://127.0.0.1:$ORIGIN_PORT" --listen "127.0.0.1:$STRATA_PORT" --data-dir "$RUN/data" \
  "${STRATA_EXTRA[@]}" --log-level warn $STRATA_FLAGS
URL=http://127.0.0.1:$STRATA_PORT
wait_http "$URL/obj/1k/warm"
sleep "$SETTLE"
pid=${TPID[strata]}
rss_sum "$pid"
idle=$RSS_SUM
log "strata pid $pid, idle RSS $((idle / 1024)) MiB"

touch "$RUN/sampling"
rss_watch "$RESULTS/rss.tsv" "$RUN/sampling" "$INTERVAL" $((DUR + 10)) "$pid" &
track_bg sampler $!
case $MODE in
  churn) wrk_args=(-s "$here/churn.lua" "$URL" -- "/obj/$SIZE/churn/$RUNID/") ;;
  hit)
    curl -s -o /dev/null --max-time 10 "$URL/obj/$SIZE/hit/$RUNID"
    wrk_args=("$URL/obj/$SIZE/hit/$RUNID")
    ;;
  *) die "MODE is churn or hit, not $MODE" ;;
esac
wrk_out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" --timeout 10s "${wrk_args[@]}" 2>&1)
echo "$wrk_out" >"$RESULTS/logs/wrk.out"
sleep 2
rss_sum "$pid"
after=$RSS_SUM
rm -f "$RUN/sampling"
wait "${PIDS[-1]}" 2>/dev/null || true
forget_bg sampler

reqs=$(awk '/requests in/ { print $1 }' <<<"$wrk_out")
rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$wrk_out")
xfer=$(awk '/^Transfer\/sec/ { print $2 }' <<<"$wrk_out")
non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$wrk_out")
peak=$(series_max "$RESULTS/rss.tsv")
median=$(series_median "$RESULTS/rss.tsv")
rec idle_rss_mib $((idle / 1024))
rec peak_rss_mib $((peak / 1024))
rec median_rss_mib $((median / 1024))
rec rss_2s_after_mib $((after / 1024))
rec requests "${reqs:-0}"
rec requests_per_s "${rps:-0}"
rec transfer_per_s "${xfer:-?}"
rec non_2xx "${non2xx:-0}"
log "RSS MiB: idle $((idle / 1024)), peak $((peak / 1024)), median $((median / 1024)), 2 s after $((after / 1024)); $reqs requests ($rps/s, $xfer/s), non-2xx ${non2xx:-0}"
cat "$TSV"
