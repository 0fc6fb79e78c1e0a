#!/usr/bin/env bash
# Benchmarks Strata beside nginx (proxy_cache) and Varnish with the shared
# harness (../shared/perf/bench.sh): cache-hit throughput and latency for
# 1 KiB and 1 MiB objects, request collapsing, and a Zipf workload.
#
#   bench/run.sh                         # the full run (ROUNDS=3, about 15 min)
#   ROUNDS=1 TESTS="hit collapse" bench/run.sh -b nginx
#
# Needs: apt-get install -y nginx varnish wrk curl jq. Everything stays on
# 127.0.0.1; every load run stops by itself. Extra arguments go to bench.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
perf=${PERF_DIR:-$root/../shared/perf}
[ -x "$perf/bench.sh" ] || { echo "bench: $perf/bench.sh not found (set PERF_DIR)" >&2; exit 2; }
for tool in nginx varnishd wrk curl jq; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing: apt-get install -y nginx varnish wrk curl jq" >&2; exit 2; }
done
bin=$(mktemp -d)/strata
(cd "$root" && go build -o "$bin" ./cmd/strata)
port=${STRATA_PORT:-18100}
# Results stay in this repository (git-ignored), not in the shared harness folder.
export RESULTS=${RESULTS:-$here/results/$(date +%Y%m%d-%H%M%S)}
# Strata's data dir (its disk tier) on tmpfs, as bench.sh puts nginx's cache.
data=$(mktemp -d /dev/shm/strata-bench-XXXXXX)
trap 'rm -rf "$data"' EXIT
# bench.sh starts the command pinned to the server CPU and stops it by PID.
# --log-level warn: the other servers do not log every request either.
"$perf/bench.sh" -t "strata=http://127.0.0.1:$port" \
  -s "strata=$bin run --origin \$ORIGIN_URL --listen 127.0.0.1:$port --data-dir $data --nats-listen 127.0.0.1:0 --api-listen 127.0.0.1:0 --log-level warn ${STRATA_FLAGS:-}" "$@"
