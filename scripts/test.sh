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
# Debian packages some tests drive, each installed only when its command is
# missing: slowhttptest (the slow-client attack test, internal/world) and dig
# from bind9-dnsutils (the DNS router's dig test, internal/dns). A tool that
# cannot be installed makes its test fail below, with the reason.
need_deb() { # COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y "$2" >/dev/null 2>&1 ||
    { $sudo apt-get update >/dev/null 2>&1 && $sudo apt-get install -y "$2" >/dev/null 2>&1; } ||
    echo "tools: could not install $2 (for $1); the tests that need it will fail" >&2
}
need_deb slowhttptest slowhttptest
need_deb dig bind9-dnsutils
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
