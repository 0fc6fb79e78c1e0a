#!/usr/bin/env bash
# WAF cost per request beside nginx + ModSecurity v3 + CRS, in the same run.
#
# Both servers answer a fixed 1 KiB body (what a cache hit costs without a
# WAF) on one core each (GOMAXPROCS=1, worker_processes 1), first without
# and then with the OWASP Core Rule Set at paranoia level 1 in blocking
# mode; wrk sends a benign browser GET with a query string. Reported: req/s
# and the server's CPU time per request (from /proc, so a loaded machine
# changes it less than req/s).
#
# Needs: apt-get install -y nginx libnginx-mod-http-modsecurity modsecurity-crs wrk
# Debian 12 ships CRS 3.3.4 for ModSecurity; Strata embeds CRS 4.25.0: the
# rule sets differ (v4 has more rules), which this comparison does not hide.
#
# Knobs: DURATION (10s), CONNS (16), PORT_STRATA (18090), PORT_NGINX (18091).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s} CONNS=${CONNS:-16}
PS=${PORT_STRATA:-18090} PN=${PORT_NGINX:-18091}
for t in nginx wrk go; do command -v $t >/dev/null || { echo "waf bench: $t missing" >&2; exit 2; }; done
[ -f /usr/share/modsecurity-crs/owasp-crs.load ] || { echo "waf bench: apt-get install -y libnginx-mod-http-modsecurity modsecurity-crs" >&2; exit 2; }

RUN=$(mktemp -d); pids=()
mkdir -p "$RUN/body"; chmod 755 "$RUN"  # the nginx workers (www-data) read the page
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$RUN"; }
trap cleanup EXIT
go build -o "$RUN/waf" ./bench/waf

# ModSecurity: the Debian recommended config, engine on, CRS 3.3 at PL1
# (owasp-crs.load itself does not load: libmodsecurity3 has no
# IncludeOptional).
cat > "$RUN/modsec.conf" <<CONF
Include /etc/nginx/modsecurity.conf
SecRuleEngine On
SecAuditEngine Off
Include /etc/modsecurity/crs/crs-setup.conf
Include /usr/share/modsecurity-crs/rules/*.conf
CONF
printf 'x%.0s' $(seq 1024) > "$RUN/page"
nginx_conf() { # modsecurity on|off
  cat > "$RUN/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_http_modsecurity_module.so;
worker_processes 1;
daemon off;
pid $RUN/nginx.pid;
error_log $RUN/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $RUN/body;
  server {
    listen 127.0.0.1:$PN;
    modsecurity $1;
    modsecurity_rules_file $RUN/modsec.conf;
    root $RUN;
    location / { default_type text/plain; try_files /page =404; }
  }
}
CONF
}
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
wait_port() { for _ in $(seq 100); do curl -fso /dev/null "http://127.0.0.1:$1/" && return; sleep 0.1; done; echo "waf bench: port $1 not answering" >&2; cat "$RUN"/*.log "$RUN"/nginx.stderr >&2 2>/dev/null; exit 1; }
measure() { # name pid port
  local url="http://127.0.0.1:$3/products/shoes?category=running&size=42&color=red&utm_source=newsletter"
  curl -fso /dev/null -A 'Mozilla/5.0' "$url" || { echo "waf bench: $1 refused the benign request" >&2; exit 1; }
  local t0 out rps reqs t1
  t0=$(cpu_ticks "$2")
  out=$(wrk -t1 -c"$CONNS" -d"$DURATION" \
    -H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0' \
    -H 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' \
    -H 'Accept-Language: en-US,en;q=0.5' -H 'Accept-Encoding: gzip, deflate, br' \
    -H 'Host: shop.example.com' "$url")
  t1=$(cpu_ticks "$2")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  printf '%-34s %10s req/s  %8.1f µs CPU/request  (%s requests)\n' "$1" "$rps" \
    "$(echo "($t1 - $t0) * 1000000 / $(getconf CLK_TCK) / $reqs" | bc -l)" "$reqs"
}
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg), $DURATION, $CONNS connections"
for waf in off on; do
  if [ $waf = on ]; then groups=OWASP/CoreRuleSet; else groups=; fi
  GOMAXPROCS=1 "$RUN/waf" -listen 127.0.0.1:$PS -groups "$groups" & pids+=($!); sp=$!
  nginx_conf $waf; nginx -p "$RUN" -c "$RUN/nginx.conf" -e "$RUN/error.log" 2>"$RUN/nginx.stderr" & pids+=($!)
  wait_port $PS; wait_port $PN
  np=$(cat "$RUN/nginx.pid"); wp=$(pgrep -P "$np" | head -1)
  if [ $waf = on ]; then # the WAF is really on: an attack is blocked
    for p in $PS $PN; do
      code=$(curl -so /dev/null -w '%{http_code}' -A 'Mozilla/5.0' "http://127.0.0.1:$p/?id=1%27%20OR%20%271%27=%271")
      [ "$code" = 403 ] || { echo "waf bench: port $p answered $code to a SQL injection" >&2; exit 1; }
    done
  fi
  measure "strata h1 + CRS 4.25 ($waf)" "$sp" $PS
  measure "nginx + ModSecurity CRS 3.3 ($waf)" "$wp" $PN
  kill "$sp"; kill "$np"; wait "$sp" 2>/dev/null || true; sleep 0.5
done
