#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script).
# It installs what the tests need into a cache folder first; nothing is skipped
# silently.
set -euo pipefail
cd "$(dirname "$0")/.."

export STRATA_TOOLS="${STRATA_TOOLS:-$HOME/.cache/strata-tools}"
mkdir -p "$STRATA_TOOLS"

echo "== tools"
# The country database the geo tests read (CC0, from the npm registry).
scripts/geo-db.sh "$STRATA_TOOLS" >/dev/null
export STRATA_GEO_DB="$STRATA_TOOLS/country.mmdb"
# A real S3 server for the S3 origin tests (built once, then reused).
VERSITYGW_VERSION=v1.8.0
if [ "$(cat "$STRATA_TOOLS/versitygw.version" 2>/dev/null)" != "$VERSITYGW_VERSION" ]; then
  GOBIN="$STRATA_TOOLS" GOFLAGS=-mod=mod go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  echo "$VERSITYGW_VERSION" > "$STRATA_TOOLS/versitygw.version"
fi
export STRATA_VERSITYGW="$STRATA_TOOLS/versitygw"
# Debian's slowhttptest for the slow-client attack test (internal/world).
if ! command -v slowhttptest >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y slowhttptest >/dev/null || { apt-get update >/dev/null && apt-get install -y slowhttptest >/dev/null; }
  else sudo -n apt-get install -y slowhttptest >/dev/null; fi
fi
# Tests that need these tools fail instead of skipping.
export STRATA_REQUIRE_TOOLS=1

echo "== go vet"
go vet ./...
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "== go test -race"
go test -race -timeout 15m -count=1 ./...
