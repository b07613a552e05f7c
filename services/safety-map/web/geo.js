// Builds static/vendor/geo/vietnam.json from the vendored npm packages (run by vendor.sh, not at run time):
// Vietnam's outline from Natural Earth 1:10m (world-atlas), the neighbouring land from 1:110m, both rounded to
// 0.01° (about a kilometre) with repeated points dropped, and the 63 provinces' names at their capitals from our
// own table, provinces.json (GSO codes; tests/unit/test_province_table.py keeps every capital inside the outline).
// Natural Earth has no admin-1 package on npm: provinces are named, not outlined.
"use strict";
const fs = require("fs");
const path = require("path");
const topojson = require("topojson-client");

const out = process.argv[2];
const STEP = 100; // 1 / 0.01°
const BOX = [97, 5, 118, 25]; // west, south, east, north: Vietnam and its sea, with its neighbours' edges

function round(ring) {
  const kept = [];
  for (const [lon, lat] of ring) {
    const point = [Math.round(lon * STEP) / STEP, Math.round(lat * STEP) / STEP];
    const last = kept[kept.length - 1];
    if (!last || last[0] !== point[0] || last[1] !== point[1]) kept.push(point);
  }
  return kept.length >= 4 ? kept : null;
}
function polygons(geometry) {
  const list = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.coordinates;
  return list.map((rings) => rings.map(round).filter(Boolean)).filter((rings) => rings.length);
}
function inBox(rings) {
  return rings[0].some(([lon, lat]) => lon >= BOX[0] && lon <= BOX[2] && lat >= BOX[1] && lat <= BOX[3]);
}
function countries(file) {
  const atlas = require(`world-atlas/${file}`);
  return topojson.feature(atlas, atlas.objects.countries).features;
}

const vietnam = countries("countries-10m.json").find((f) => f.properties.name === "Vietnam");
const neighbours = countries("countries-110m.json")
  .filter((f) => f.properties.name !== "Vietnam")
  .flatMap((f) => polygons(f.geometry))
  .filter(inBox);
const provinces = require("./provinces.json").provinces
  .map((p) => ({ code: p.code, name: p.name, lat: p.lat, lon: p.lon }));
const geo = {
  source: "Natural Earth (public domain) via world-atlas; provinces and their capitals: Antoan's own table (web/provinces.json)",
  vietnam: { type: "MultiPolygon", coordinates: polygons(vietnam.geometry) },
  neighbours: { type: "MultiPolygon", coordinates: neighbours },
  provinces,
};
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(geo));
console.log(`${out}: ${fs.statSync(out).size} bytes, ${provinces.length} provinces`);
