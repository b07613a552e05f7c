#!/usr/bin/env bash
# Re-fetches the pages' front-end libraries exactly as package-lock.json pins them and copies their
# distributed files (and licences) into the repository, which keeps them: nothing served needs npm, a CDN or
# the internet. Runtime libraries go to public/vendor/ (served by the gateway); test-only ones to
# test-vendor/ (never served): axe-core, which the browser tests inject into the pages they check for
# accessibility. Run through `make web-vendor`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
test_vendor="$here/test-vendor"
cd "$here"
npm ci --ignore-scripts --no-audit --no-fund
rm -rf "$test_vendor"
mkdir -p "$test_vendor/axe-core"
cp node_modules/axe-core/axe.min.js node_modules/axe-core/LICENSE node_modules/axe-core/LICENSE-3RD-PARTY.txt "$test_vendor/axe-core/"
node -p "require('./node_modules/axe-core/package.json').version" > "$test_vendor/axe-core/VERSION"
echo "vendored into $test_vendor:"
ls -R "$test_vendor"
