#!/usr/bin/env bash
# Re-fetches the pages' front-end libraries exactly as package-lock.json pins them and copies their
# distributed files (and licences) into the repository, which keeps them: nothing served needs npm, a CDN or
# the internet. Runtime libraries go to public/vendor/ (served by the gateway); test-only ones to
# test-vendor/ (never served): axe-core, which the browser tests inject into the pages they check for
# accessibility. Run through `make web-vendor`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
test_vendor="$here/test-vendor"
vendor="$here/public/vendor"
cd "$here"
npm ci --ignore-scripts --no-audit --no-fund
rm -rf "$test_vendor" "$vendor"
mkdir -p "$vendor/qrcode-generator" "$vendor/jsqr"
# "My QR" draws the personal QR code on the device with qrcode-generator (MIT; its package has no licence file:
# the licence is the header of its script, copied as LICENSE); the staff scanner reads codes from the camera
# with jsQR (Apache-2.0).
cp node_modules/qrcode-generator/dist/qrcode.js "$vendor/qrcode-generator/"
awk '/^\/\//{print; next} {exit}' node_modules/qrcode-generator/dist/qrcode.js > "$vendor/qrcode-generator/LICENSE"
cp node_modules/jsqr/dist/jsQR.js node_modules/jsqr/LICENSE "$vendor/jsqr/"
for pkg in qrcode-generator jsqr; do
  node -p "require('./node_modules/$pkg/package.json').version" > "$vendor/$pkg/VERSION"
done
mkdir -p "$test_vendor/axe-core"
cp node_modules/axe-core/axe.min.js node_modules/axe-core/LICENSE node_modules/axe-core/LICENSE-3RD-PARTY.txt "$test_vendor/axe-core/"
node -p "require('./node_modules/axe-core/package.json').version" > "$test_vendor/axe-core/VERSION"
echo "vendored into $vendor and $test_vendor:"
ls -R "$vendor" "$test_vendor"
