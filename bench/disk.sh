#!/usr/bin/env bash
# Disk-hit throughput: Strata serving 1 MiB objects from its disk tier (the
# memory tier is too small for them: bench/disk-hit.yaml) beside nginx
# serving the same objects from its proxy_cache files, in the same run.
# (100 MiB objects: bench/bigdisk/run.sh; the shared origin stops at 10 MiB.)
# Both caches live on tmpfs (bench.sh puts nginx's under /dev/shm; Strata's
# data dir is put there too), so the comparison is of the file-serving paths.
#
#   bench/disk.sh            # ROUNDS=3 by default
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
perf=${PERF_DIR:-$root/../shared/perf}
bin=$(mktemp -d)/strata
(cd "$root" && go build -o "$bin" ./cmd/strata)
data=$(mktemp -d /dev/shm/strata-disk-XXXXXX)
trap 'rm -rf "$data"' EXIT
for size in 1m; do
  conns=50
  RESULTS=$here/results/disk-$size-$(date +%Y%m%d-%H%M%S) ROUNDS=${ROUNDS:-3} TESTS="big bigload" BIG_SIZE=$size BIG_CONNS=$conns \
    "$perf/bench.sh" -b nginx -t "strata-disk=http://127.0.0.1:18100" \
    -s "strata-disk=$bin run --config $here/disk-hit.yaml --data-dir $data --nats-listen 127.0.0.1:0 --api-listen 127.0.0.1:0 --log-level warn"
done
