#!/usr/bin/env bash
# Fetches a free, redistributable (CC0) country database in MaxMind format,
# @ip-location-db/geo-whois-asn-country-mmdb from the npm registry, to
# DIR/country.mmdb (default: Strata's data dir, where `strata run` finds it
# when pop.geoDatabase is not set).
#
#   scripts/geo-db.sh [DIR]
set -euo pipefail
version=2.3.2026061719
dir=${1:-${STRATA_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/strata}}
mkdir -p "$dir"
if [ -s "$dir/country.mmdb" ] && [ "$(cat "$dir/country.mmdb.version" 2>/dev/null)" = "$version" ]; then
  echo "$dir/country.mmdb is up to date ($version)"
  exit 0
fi
command -v npm >/dev/null || { echo "geo-db: npm is needed (apt-get install -y npm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for attempt in 1 2 3; do
  if (cd "$tmp" && npm pack --silent "@ip-location-db/geo-whois-asn-country-mmdb@$version" >/dev/null && tar xzf ./*.tgz); then
    break
  fi
  [ "$attempt" = 3 ] && { echo "geo-db: could not fetch the database from the npm registry" >&2; exit 1; }
  sleep $((attempt * 5))
done
cp "$tmp/package/geo-whois-asn-country.mmdb" "$dir/country.mmdb.tmp"
mv "$dir/country.mmdb.tmp" "$dir/country.mmdb"
echo "$version" > "$dir/country.mmdb.version"
echo "wrote $dir/country.mmdb (ip-location-db geo-whois-asn-country $version, CC0)"
