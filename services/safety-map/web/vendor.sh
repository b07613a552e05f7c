#!/usr/bin/env bash
# Re-fetches the map's front-end libraries exactly as package-lock.json pins them and copies their
# distributed files (and licences) into the service's static/vendor/, which is committed: the service
# itself never needs npm, a CDN or the internet. Run through `make web-vendor`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
vendor="$here/../src/antoan_safety_map/static/vendor"
cd "$here"
npm ci --ignore-scripts --no-audit --no-fund
rm -rf "$vendor"
mkdir -p "$vendor/leaflet/images" "$vendor/leaflet.markercluster"
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$vendor/leaflet/"
cp node_modules/leaflet/dist/images/*.png "$vendor/leaflet/images/"
cp node_modules/leaflet/LICENSE "$vendor/leaflet/LICENSE"
cp node_modules/leaflet.markercluster/dist/leaflet.markercluster.js \
   node_modules/leaflet.markercluster/dist/MarkerCluster.css \
   node_modules/leaflet.markercluster/dist/MarkerCluster.Default.css "$vendor/leaflet.markercluster/"
cp node_modules/leaflet.markercluster/MIT-LICENCE.txt "$vendor/leaflet.markercluster/LICENSE"
# Vietnam's outline, built from world-atlas and topojson-client, and the provinces' names from our own
# provinces.json (geo.js): one small JSON file, no library of theirs is served.
mkdir -p "$vendor/geo"
node geo.js "$vendor/geo/vietnam.json"
cp node_modules/world-atlas/LICENSE "$vendor/geo/LICENSE-world-atlas"
for pkg in world-atlas topojson-client; do
  echo "$pkg $(node -p "require('./node_modules/$pkg/package.json').version")"
done > "$vendor/geo/VERSION"
for pkg in leaflet leaflet.markercluster; do
  node -p "require('./node_modules/$pkg/package.json').version" > "$vendor/$pkg/VERSION"
done
echo "vendored into $vendor:"
ls -R "$vendor"
