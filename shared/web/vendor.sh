#!/usr/bin/env bash
# Re-fetches the API documentation pages' libraries (Swagger UI for /docs, ReDoc for /redoc) exactly as
# package-lock.json pins them and copies their distributed files (and licences) into the shared package's
# static/apidocs/vendor/, which is committed: no service ever needs npm, a CDN or the internet to show its
# /docs. Our own files next to vendor/ (the page scripts) are left alone.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
vendor="$here/../src/antoan_shared/static/apidocs/vendor"
cd "$here"
npm ci --ignore-scripts --no-audit --no-fund
rm -rf "$vendor"
mkdir -p "$vendor/swagger-ui" "$vendor/redoc"
cp node_modules/swagger-ui-dist/swagger-ui-bundle.js \
   node_modules/swagger-ui-dist/swagger-ui.css \
   node_modules/swagger-ui-dist/favicon-32x32.png "$vendor/swagger-ui/"
cp node_modules/swagger-ui-dist/LICENSE "$vendor/swagger-ui/LICENSE"
cp node_modules/swagger-ui-dist/NOTICE "$vendor/swagger-ui/NOTICE"
cp node_modules/swagger-ui-dist/swagger-ui-bundle.js.LICENSE.txt "$vendor/swagger-ui/THIRD-PARTY-LICENSES.txt"
cp node_modules/redoc/bundles/redoc.standalone.js "$vendor/redoc/"
cp node_modules/redoc/LICENSE "$vendor/redoc/LICENSE"
cp node_modules/redoc/bundles/redoc.standalone.js.LICENSE.txt "$vendor/redoc/THIRD-PARTY-LICENSES.txt"
# The bundles end with a sourceMappingURL comment; the maps are not vendored, so drop the comment (a
# browser's developer tools would otherwise ask this service for a file it does not have).
sed -i '/^\/\/# sourceMappingURL=/d' "$vendor/swagger-ui/swagger-ui-bundle.js" "$vendor/redoc/redoc.standalone.js"
sed -i 's#/\*\# sourceMappingURL=[^*]*\*/##' "$vendor/swagger-ui/swagger-ui.css"
# ReDoc's sidebar shows a logo it loads from cdn.redoc.ly (and hides when that fails): an empty source
# fails at once, without a request the page's CSP would have to refuse.
logo='"https://cdn.redoc.ly/redoc/logo-mini.svg"'
[ "$(grep -o "$logo" "$vendor/redoc/redoc.standalone.js" | wc -l)" = 1 ] || { echo "ReDoc's logo URL moved; update vendor.sh" >&2; exit 1; }
sed -i "s#$logo#\"\"#" "$vendor/redoc/redoc.standalone.js"
node -p "require('./node_modules/swagger-ui-dist/package.json').version" > "$vendor/swagger-ui/VERSION"
node -p "require('./node_modules/redoc/package.json').version" > "$vendor/redoc/VERSION"
echo "vendored into $vendor:"
ls -R "$vendor"
