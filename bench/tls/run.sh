#!/usr/bin/env bash
# HTTPS cache-hit throughput: Strata beside nginx (proxy_cache), both with
# the same certificate (the development CA's, issued by strata run), over
# HTTP/1.1 (wrk) and HTTP/2 (h2load). One 1 KiB object, warmed first, so
# every measured request is a hit.
#
#   bench/tls/run.sh                 # DUR=10 s per run, CONNS=50
#   DUR=5 CONNS=20 bench/tls/run.sh
#   STRATA_BIN=/tmp/strata-old bench/tls/run.sh   # measure that build instead of this tree's
#
# Needs: apt-get install -y nginx wrk nghttp2-client curl. The servers are
# pinned to CPU $SERVER_CPU (0), the clients and the origin to $CLIENT_CPU (1),
# as ../shared/perf/bench.sh does. Everything listens on 127.0.0.1; every run
# stops by itself (-d / -D).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
perf=${PERF_DIR:-$root/../shared/perf}
[ -d "$perf" ] || perf=/work/shared/perf
DUR=${DUR:-10}
CONNS=${CONNS:-50}
STREAMS=${STREAMS:-10}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
P_ORIGIN=${P_ORIGIN:-18280}
P_STRATA=${P_STRATA:-18281}
P_STRATA_TLS=${P_STRATA_TLS:-18443}
P_NGINX=${P_NGINX:-18444}
for tool in nginx wrk h2load curl taskset; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing: apt-get install -y nginx wrk nghttp2-client curl" >&2; exit 2; }
done
[ -d "$perf/origin" ] || { echo "bench: $perf/origin not found (set PERF_DIR)" >&2; exit 2; }

run=$(mktemp -d /dev/shm/strata-tls-bench-XXXXXX)
chmod 755 "$run" # nginx's workers (nobody) create their cache under it
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$run"; }
trap cleanup EXIT
if [ -n "${STRATA_BIN:-}" ]; then cp "$STRATA_BIN" "$run/strata"; else (cd "$root" && go build -o "$run/strata" ./cmd/strata); fi
(cd "$perf" && go build -o "$run/origin" ./origin)

wait_url() { # url [curl args]
  local u=$1; shift
  for _ in $(seq 100); do curl -sk -o /dev/null "$@" "$u" && return 0; sleep 0.1; done
  echo "bench: $u did not come up" >&2; exit 1
}

taskset -c "$CLIENT_CPU" "$run/origin" -addr "127.0.0.1:$P_ORIGIN" >"$run/origin.log" 2>&1 & pids+=($!)
wait_url "http://127.0.0.1:$P_ORIGIN/stats"

# Strata: quick mode, one PoP; it creates the development CA and the default
# certificate in $run/data/tls.
taskset -c "$SERVER_CPU" "$run/strata" run --origin "http://127.0.0.1:$P_ORIGIN" --listen "127.0.0.1:$P_STRATA" \
  --https-port "$P_STRATA_TLS" --data-dir "$run/data" --control=false --log-level warn >"$run/strata.log" 2>&1 & pids+=($!)
wait_url "https://127.0.0.1:$P_STRATA_TLS/obj/1k/ready"
cert=$run/data/tls/default.pem key=$run/data/tls/default-key.pem ca=$run/data/tls/ca.pem

mkdir -p "$run/nginx/cache"
cat >"$run/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $run/nginx/nginx.pid;
error_log $run/nginx/error.log warn;
worker_rlimit_nofile 65536;
events { worker_connections 16384; use epoll; }
http {
    access_log off;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    keepalive_timeout 65s; keepalive_requests 1000000;
    server_tokens off;
    client_body_temp_path $run/nginx/client_body;
    proxy_temp_path $run/nginx/proxy_temp;
    fastcgi_temp_path $run/nginx/fastcgi_temp;
    uwsgi_temp_path $run/nginx/uwsgi_temp;
    scgi_temp_path $run/nginx/scgi_temp;
    proxy_cache_path $run/nginx/cache levels=1:2 keys_zone=edge:64m max_size=1g inactive=60m use_temp_path=off;
    upstream origin { server 127.0.0.1:$P_ORIGIN; keepalive 128; }
    server {
        listen 127.0.0.1:$P_NGINX ssl http2 backlog=4096;
        ssl_certificate $cert;
        ssl_certificate_key $key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache edge;
            proxy_cache_lock on;
            add_header X-Cache-Status \$upstream_cache_status always;
        }
    }
}
CONF
taskset -c "$SERVER_CPU" nginx -c "$run/nginx/nginx.conf" -e "$run/nginx/error.log" -g 'daemon off;' & pids+=($!)
wait_url "https://127.0.0.1:$P_NGINX/obj/1k/ready"

path=/obj/1k/tls-bench
declare -A url=([strata]="https://127.0.0.1:$P_STRATA_TLS$path" [nginx]="https://127.0.0.1:$P_NGINX$path")
for t in strata nginx; do
  for _ in 1 2 3; do curl -s --cacert "$ca" -o /dev/null "${url[$t]}"; done
  curl -sI --http2 -k "${url[$t]}" | tr -d '\r' | grep -iE '^(HTTP|x-cache)' | sed "s/^/$t: /"
done
echo "origin requests for $path (expect 2: one per server): $(curl -s "http://127.0.0.1:$P_ORIGIN/stats?path=$path")"

echo
echo "| server | protocol | client | req/s | notes |"
echo "|---|---|---|---|---|"
for t in strata nginx; do
  u=${url[$t]}
  out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"${DUR}s" --latency "$u" 2>&1)
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  echo "| $t | HTTP/1.1 | wrk -t1 -c$CONNS -d${DUR}s | $rps | p99 $p99 |"
  for m in 1 "$STREAMS"; do
    out=$(taskset -c "$CLIENT_CPU" h2load -t1 -c"$CONNS" -m"$m" -D"$DUR" --warm-up-time=1 "$u" 2>&1)
    rps=$(awk '/^finished in/ {print $4}' <<<"$out")
    ok=$(awk '/^status codes:/ {print $3, $4}' <<<"$out")
    echo "| $t | HTTP/2 | h2load -t1 -c$CONNS -m$m -D$DUR | $rps | 2xx: ${ok%,} |"
  done
done
