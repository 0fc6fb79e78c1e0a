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

echo "== go vet"
go vet ./...
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "== go test -race"
go test -race -timeout 15m -count=1 ./...
