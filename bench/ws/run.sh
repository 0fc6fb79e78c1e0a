#!/usr/bin/env bash
# WebSocket echo round trips, straight to the origin and through a Strata
# edge (quick mode, one PoP), on loopback. The edge is pinned to CPU 0, the
# echo origin and the clients to CPU 1 (as in bench/run.sh).
#
#   bench/ws/run.sh                       # 50 WebSockets, 64-byte messages, 10 s each
#   CONNS=200 SIZE=4096 DURATION=20s bench/ws/run.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
conns=${CONNS:-50} size=${SIZE:-64} duration=${DURATION:-10s}
origin_port=${ORIGIN_PORT:-18200} edge_port=${EDGE_PORT:-18201}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
(cd "$root" && go build -o "$tmp/strata" ./cmd/strata && go build -o "$tmp/ws" ./bench/ws)
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }

taskset -c 1 "$tmp/ws" -echo "127.0.0.1:$origin_port" >/dev/null & pids+=($!)
taskset -c 0 "$tmp/strata" run --origin "http://127.0.0.1:$origin_port" --listen "127.0.0.1:$edge_port" \
  --data-dir "$tmp/data" --nats-listen 127.0.0.1:0 --api-listen 127.0.0.1:0 --log-level warn & pids+=($!)
wait_port "$origin_port"; wait_port "$edge_port"

echo "== direct to the origin"
taskset -c 1 "$tmp/ws" -url "ws://127.0.0.1:$origin_port/" -conns "$conns" -size "$size" -duration "$duration"
echo "== through the edge"
taskset -c 1 "$tmp/ws" -url "ws://127.0.0.1:$edge_port/" -conns "$conns" -size "$size" -duration "$duration"
