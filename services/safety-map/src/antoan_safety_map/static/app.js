/* The public safety map: venues coloured by risk level, live over Server-Sent Events.
 * Plain JavaScript, no build step. Leaflet and Leaflet.markercluster are vendored from npm (static/vendor).
 * Nothing here reaches beyond this service, except map tiles when the deployment configures a tile server;
 * without one, Vietnam's outline and the provinces' names come from static/vendor/geo (Natural Earth). */
(function () {
  "use strict";

  var LEVELS = [1, 2, 3, 4];
  var COLORS = { 1: "green", 2: "yellow", 3: "orange", 4: "red" };
  var RELOAD_DEBOUNCE_MS = 400;
  // Below this zoom the server sends its clusters (a whole country's venues are too many for a page); from it,
  // the venues in view, clustered here.
  var SERVER_CLUSTERS_BELOW_ZOOM = 15;
  var CLUSTER_REFRESH_MS = 1500;  // a change inside a server cluster redraws the clusters at most this often
  var LANG_KEY = "antoan.lang";

  var TEXT = {
    vi: {
      title: "Bản đồ an toàn COVID",
      legend_title: "Mức độ nguy cơ",
      legend_cluster: "Vòng tròn có số: một cụm địa điểm; mỗi cung màu dài theo số địa điểm ở cấp độ đó.",
      cluster_label: function (total, parts) { return total + " địa điểm: " + parts; },
      cluster_part: function (n, level) { return n + " " + level.toLowerCase(); },
      level: { 1: "Nguy cơ thấp (bình thường mới)", 2: "Nguy cơ trung bình", 3: "Nguy cơ cao", 4: "Nguy cơ rất cao" },
      level_short: "Cấp độ",
      unknown_level: "Chưa có đánh giá",
      status_connecting: "Đang kết nối…",
      status_live: "Trực tiếp",
      status_reconnecting: "Mất kết nối, đang thử lại…",
      close: "Đóng",
      reasons: "Lý do",
      occupancy: "Số người hiện có",
      people: "người",
      capacity: "sức chứa",
      no_capacity: "chưa khai báo sức chứa",
      as_of: "Cập nhật lúc",
      truncated: "Có quá nhiều địa điểm: hãy phóng to để xem đầy đủ.",
      load_failed: "Không tải được dữ liệu bản đồ; đang thử lại…",
      no_venues: "Chưa có địa điểm nào trên bản đồ.",
      hoang_sa: "Quần đảo Hoàng Sa (Việt Nam)",
      truong_sa: "Quần đảo Trường Sa (Việt Nam)",
      areas_button: "Khu vực",
      areas_title: "Cấp độ dịch theo khu vực",
      areas_hint: "Tỉnh/thành phố, quận/huyện, phường/xã: số ca mới trong 7 ngày trên 100.000 dân.",
      areas_none: "Cơ quan y tế chưa tải dữ liệu khu vực.",
      areas_loading: "Đang tải…",
      areas_show: function (name) { return "Xem các khu vực thuộc " + name; },
      search_label: "Tìm địa điểm theo tên hoặc địa chỉ",
      search_placeholder: "Tìm địa điểm, địa chỉ…",
      search_results: "Kết quả tìm kiếm",
      search_none: "Không tìm thấy địa điểm nào",
      search_count: function (n, more) { return n + (more ? "+" : "") + " kết quả; dùng phím mũi tên để chọn"; },
      search_failed: "Chưa tìm được; hãy thử lại",
      area_kind: { ward: "Phường/xã", district: "Quận/huyện", province: "Tỉnh/thành phố" },
      category: {
        office: "Văn phòng", hospital: "Bệnh viện", school: "Trường học", company: "Công ty",
        supermarket: "Siêu thị", market: "Chợ", hotel: "Khách sạn", restaurant: "Nhà hàng",
        cafe: "Quán cà phê", shop: "Cửa hàng", factory: "Nhà máy", government: "Cơ quan nhà nước",
        place_of_worship: "Cơ sở tôn giáo", public_transport: "Phương tiện giao thông công cộng", other: "Khác"
      },
      reason: {
        case_present_72h: function (d) { return casePresence(d, "trong 72 giờ qua"); },
        case_present_14d: function (d) { return casePresence(d, "trong 14 ngày qua"); },
        over_capacity: function (d, v) { return "Vượt sức chứa: " + headcount(d, v) + " người"; },
        near_capacity: function (d, v) { return "Gần đạt sức chứa: " + headcount(d, v) + " người" + pct(d.ratio, " (từ ", "% sức chứa)"); },
        low_self_assessment: function (d) { return "Điểm tự đánh giá an toàn thấp: " + num(d.score) + "/100" + (d.threshold != null ? " (dưới " + num(d.threshold) + ")" : ""); },
        area_level: function (d) { return areaLabel(d) + " ở cấp độ " + num(d.level) + levelName(d.level, " — "); },
        cleared: function (d) { return "Đã được cơ quan y tế xác nhận khử khuẩn" + when(d.cleared_at, " (", ")"); },
        no_risk_factors: function () { return "Không có yếu tố nguy cơ"; },
        cases_per_100k: function (d) { return num(d.cases_7d) + " ca mới trong 7 ngày qua: " + decimal(d.per_100k) + " ca trên 100.000 dân" + thresholds(d.thresholds, " (ngưỡng cấp 2/3/4: ", ")"); },
        population_unknown: function (d) { return num(d.cases_7d) + " ca mới trong 7 ngày qua; chưa có số dân nên chưa tính được tỷ lệ"; },
        vaccination_coverage: function (d) { return "Giảm một cấp nhờ tỷ lệ tiêm chủng " + pct(d.coverage, "", "%") + pct(d.threshold, " (từ ", "% trở lên)"); }
      },
      // A case's presence window, always in the past tense: [when, how long ago]
      case_between: function (span, ago) { return "Một ca bệnh đã có mặt tại đây trong khoảng " + span + " (" + ago + ")"; },
      case_since: function (start, ago) { return "Một ca bệnh đã có mặt tại đây từ " + start + " (" + ago + ")"; },
      case_before: function (end, ago) { return "Một ca bệnh đã có mặt tại đây, muộn nhất đến " + end + " (" + ago + ")"; },
      case_plain: function (ago) { return "Một ca bệnh đã có mặt tại đây " + ago; },
      on_day: function (time, day) { return time + " ngày " + day; }
    },
    en: {
      title: "COVID safety map",
      legend_title: "Risk level",
      legend_cluster: "A ring with a number is a group of venues; each coloured arc is as long as its level's share.",
      cluster_label: function (total, parts) { return total + " venues: " + parts; },
      cluster_part: function (n, level) { return n + " " + level.toLowerCase(); },
      level: { 1: "Low risk (new normal)", 2: "Medium risk", 3: "High risk", 4: "Very high risk" },
      level_short: "Level",
      unknown_level: "Not assessed yet",
      status_connecting: "Connecting…",
      status_live: "Live",
      status_reconnecting: "Disconnected, retrying…",
      close: "Close",
      reasons: "Reasons",
      occupancy: "People here now",
      people: "people",
      capacity: "capacity",
      no_capacity: "no capacity declared",
      as_of: "Updated",
      truncated: "Too many venues here: zoom in to see them all.",
      load_failed: "Could not load the map data; retrying…",
      no_venues: "No venues on the map yet.",
      hoang_sa: "Hoàng Sa Archipelago (Vietnam)",
      truong_sa: "Trường Sa Archipelago (Vietnam)",
      areas_button: "Areas",
      areas_title: "Levels by area",
      areas_hint: "Provinces, districts and wards: new cases in 7 days per 100,000 people.",
      areas_none: "The health authority has not loaded area data yet.",
      areas_loading: "Loading…",
      areas_show: function (name) { return "Show the areas of " + name; },
      search_label: "Find a venue by name or address",
      search_placeholder: "Find a venue or address…",
      search_results: "Search results",
      search_none: "No venue found",
      search_count: function (n, more) { return n + (more ? "+" : "") + " results; use the arrow keys to choose"; },
      search_failed: "Search failed; please try again",
      area_kind: { ward: "Ward", district: "District", province: "Province" },
      category: {
        office: "Office", hospital: "Hospital", school: "School", company: "Company",
        supermarket: "Supermarket", market: "Market", hotel: "Hotel", restaurant: "Restaurant",
        cafe: "Café", shop: "Shop", factory: "Factory", government: "Government office",
        place_of_worship: "Place of worship", public_transport: "Public transport", other: "Other"
      },
      reason: {
        case_present_72h: function (d) { return casePresence(d, "in the last 72 hours"); },
        case_present_14d: function (d) { return casePresence(d, "in the last 14 days"); },
        over_capacity: function (d, v) { return "Over capacity: " + headcount(d, v) + " people"; },
        near_capacity: function (d, v) { return "Near capacity: " + headcount(d, v) + " people" + pct(d.ratio, " (", "% of capacity or more)"); },
        low_self_assessment: function (d) { return "Low safety self-assessment: " + num(d.score) + "/100" + (d.threshold != null ? " (below " + num(d.threshold) + ")" : ""); },
        area_level: function (d) { return areaLabel(d) + " is at level " + num(d.level) + levelName(d.level, " — "); },
        cleared: function (d) { return "Cleared by the health authority after disinfection" + when(d.cleared_at, " (", ")"); },
        no_risk_factors: function () { return "No risk factors"; },
        cases_per_100k: function (d) { return num(d.cases_7d) + " new cases in the last 7 days: " + decimal(d.per_100k) + " per 100,000 people" + thresholds(d.thresholds, " (levels 2/3/4 from ", ")"); },
        population_unknown: function (d) { return num(d.cases_7d) + " new cases in the last 7 days; no population loaded, so no rate yet"; },
        vaccination_coverage: function (d) { return "One level lower for vaccination coverage of " + pct(d.coverage, "", "%") + pct(d.threshold, " (", "% or more)"); }
      },
      case_between: function (span, ago) { return "A confirmed case was here between " + span + " (" + ago + ")"; },
      case_since: function (start, ago) { return "A confirmed case was here from " + start + " (" + ago + ")"; },
      case_before: function (end, ago) { return "A confirmed case was here, until " + end + " at the latest (" + ago + ")"; },
      case_plain: function (ago) { return "A confirmed case was here " + ago; },
      on_day: function (time, day) { return time + " on " + day; }
    }
  };

  // --- state ---------------------------------------------------------------------------------------
  var config = readConfig();
  var lang = storedLanguage();
  var venues = {};          // venue_id -> {props, marker}
  var areaNames = {};       // area code -> name ("" while asked for)
  var selectedId = null;
  var fitted = false;
  var reloadTimer = null;
  var clusterRefreshTimer = null;
  var everConnected = false;
  var clustered = false;    // the view shows the server's clusters

  // --- small helpers -------------------------------------------------------------------------------
  function t() { return TEXT[lang]; }
  function esc(value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function num(value) { return value == null ? "?" : String(value); }
  function pct(ratio, before, after) { return typeof ratio === "number" ? before + Math.round(ratio * 100) + after : ""; }
  /** "current/capacity": from the reason's detail, else from what the map knows of the venue. */
  function headcount(detail, venue) {
    var current = detail.current != null ? detail.current : venue.current;
    var capacity = detail.capacity != null ? detail.capacity : venue.capacity;
    return num(current) + "/" + num(capacity);
  }
  function formatTime(value) {
    if (!value) { return ""; }
    var date = new Date(value);
    if (isNaN(date.getTime())) { return String(value); }
    return date.toLocaleString(lang === "vi" ? "vi-VN" : "en-GB", { dateStyle: "short", timeStyle: "short" });
  }
  function when(value, before, after) { return value ? before + formatTime(value) + (after || "") : ""; }
  function decimal(value) { return typeof value === "number" ? value.toLocaleString(lang === "vi" ? "vi-VN" : "en-GB") : "?"; }
  function thresholds(list, before, after) { return Array.isArray(list) ? before + list.map(decimal).join("/") + after : ""; }

  // Venues are in Vietnam: their times are told in Vietnam's time (UTC+7, no daylight saving), wherever the
  // reader is; worked out here rather than by the locale, whose short dates differ between browsers.
  var VIETNAM_OFFSET_MS = 7 * 3600 * 1000;
  var MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function vietnam(date) { return new Date(date.getTime() + VIETNAM_OFFSET_MS); }
  function clock(date) { var v = vietnam(date); return two(v.getUTCHours()) + ":" + two(v.getUTCMinutes()); }
  function day(date) {
    var v = vietnam(date);
    return lang === "vi" ? two(v.getUTCDate()) + "/" + two(v.getUTCMonth() + 1) : v.getUTCDate() + " " + MONTHS_EN[v.getUTCMonth()];
  }
  function parsed(value) { var date = value ? new Date(value) : null; return date && !isNaN(date.getTime()) ? date : null; }
  /** A case's presence as a past interval: "08:00–10:00 ngày 02/12". A window still running (the end of its
   * ±1 h margin not yet come) is told as "from 08:00", never as "until" a time in the future. */
  function casePresence(detail, ago) {
    var text = t();
    var start = parsed(detail.present_from), end = parsed(detail.last_present_at), now = new Date();
    if (end && end > now) { end = null; }
    if (start && end) {
      var span = day(start) === day(end)
        ? text.on_day(clock(start) + "–" + clock(end), day(end))
        : text.on_day(clock(start), day(start)) + " – " + text.on_day(clock(end), day(end));
      return text.case_between(span, ago);
    }
    if (start) { return text.case_since(text.on_day(clock(start), day(start)), ago); }
    if (end) { return text.case_before(text.on_day(clock(end), day(end)), ago); }
    return text.case_plain(ago);
  }
  function areaKind(kind) { return t().area_kind[kind] || kind || ""; }
  /** An area by its name when the map knows it (asking the API once), else by kind and code. */
  function areaLabel(detail) {
    var code = detail.area_code || "";
    var name = areaNames[code];
    if (name) { return name; }
    if (code && !(code in areaNames)) {
      areaNames[code] = "";
      fetch("/v1/areas/" + encodeURIComponent(code) + "/risk")
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (area) { if (area && area.name) { areaNames[code] = area.name; renderPanel(); } })
        .catch(function () { /* the code will do */ });
    }
    return (areaKind(detail.area_kind) + " " + code).trim();
  }
  function levelName(level, prefix) { return t().level[level] ? prefix + t().level[level] : ""; }
  function validLevel(level) { return LEVELS.indexOf(level) >= 0 ? level : 0; }
  function reasonText(reason, venue) {
    var describe = t().reason[reason.code];
    return describe ? describe(reason.detail || {}, venue) : String(reason.code);
  }
  function readConfig() {
    var element = document.getElementById("antoan-config");
    try { return element ? JSON.parse(element.textContent) : {}; } catch (e) { return {}; }
  }
  function storedLanguage() {
    try { return localStorage.getItem(LANG_KEY) === "en" ? "en" : "vi"; } catch (e) { return "vi"; }
  }

  // --- the map -------------------------------------------------------------------------------------
  var map = L.map("map", { zoomControl: true, worldCopyJump: true, minZoom: 3, maxZoom: 19 }).setView([16.0, 106.0], 6);
  // The zoom, for whoever looks at the page (tests, assistive tools): 0 to 19.
  map.on("zoomend", function () { document.getElementById("map").setAttribute("data-zoom", String(map.getZoom())); });
  document.getElementById("map").setAttribute("data-zoom", String(map.getZoom()));
  var places = null;  // Vietnam's outline and the provinces' names, when no tile server draws them
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { attribution: config.tile_attribution || "", maxZoom: 19 }).addTo(map);
  } else {
    document.getElementById("map").classList.add("no-tiles");
    var graticule = L.layerGroup().addTo(map);
    map.on("moveend", function () { drawGraticule(graticule); });
    drawGraticule(graticule);
    loadPlaces();
  }

  /** The land from Natural Earth (vendored: static/vendor/geo), under the venues, and the provinces' names
   * from zoom 7, where they no longer crowd each other. The archipelagos are named as Vietnam's maps name them. */
  var PROVINCE_LABEL_ZOOM = 7;
  var ISLANDS = [
    { key: "hoang_sa", lat: 16.5, lon: 112.0 },
    { key: "truong_sa", lat: 10.0, lon: 114.0 }
  ];
  function loadPlaces() {
    map.createPane("land").style.zIndex = 250;  // over where tiles would be (200), under the graticule (400)
    fetch("/static/vendor/geo/vietnam.json")
      .then(function (response) { if (!response.ok) { throw new Error("HTTP " + response.status); } return response.json(); })
      .then(function (geo) {
        var land = { pane: "land", interactive: false };
        L.geoJSON(geo.neighbours, Object.assign({ className: "land-neighbour" }, land)).addTo(map);
        L.geoJSON(geo.vietnam, Object.assign({ className: "land-vietnam" }, land)).addTo(map);
        places = { provinces: L.layerGroup(), islands: L.layerGroup().addTo(map), list: geo.provinces || [] };
        renderPlaces();
        map.on("zoomend", showProvinceNames);
        showProvinceNames();
      })
      .catch(function () { /* the graticule alone still shows scale and movement */ });
  }
  function placeLabel(text, lat, lon, className) {
    return L.marker([lat, lon], {
      pane: "land", interactive: false, keyboard: false,
      icon: L.divIcon({ className: "place-label " + className, html: "<span>" + esc(text) + "</span>", iconSize: null })
    });
  }
  function renderPlaces() {
    if (!places) { return; }
    places.provinces.clearLayers();
    places.list.forEach(function (province) {
      placeLabel(province.name, province.lat, province.lon, "province-label").addTo(places.provinces);
    });
    places.islands.clearLayers();
    ISLANDS.forEach(function (island) { placeLabel(t()[island.key], island.lat, island.lon, "island-label").addTo(places.islands); });
  }
  function showProvinceNames() {
    if (!places) { return; }
    var wanted = map.getZoom() >= PROVINCE_LABEL_ZOOM;
    if (wanted && !map.hasLayer(places.provinces)) { places.provinces.addTo(map); }
    if (!wanted && map.hasLayer(places.provinces)) { map.removeLayer(places.provinces); }
  }

  /** Light latitude/longitude lines, so a map with no tiles still shows scale and movement. */
  function drawGraticule(layer) {
    layer.clearLayers();
    var bounds = map.getBounds();
    var span = Math.max(bounds.getEast() - bounds.getWest(), 1e-6);
    var steps = [20, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001];
    var step = steps[steps.length - 1];
    for (var i = 0; i < steps.length; i++) { if (span / steps[i] >= 4) { step = steps[i]; break; } }
    var south = Math.max(bounds.getSouth(), -85), north = Math.min(bounds.getNorth(), 85);
    var style = { className: "graticule", weight: 1, interactive: false };
    for (var lon = Math.floor(bounds.getWest() / step) * step; lon <= bounds.getEast(); lon += step) {
      L.polyline([[south, lon], [north, lon]], style).addTo(layer);
    }
    for (var lat = Math.floor(south / step) * step; lat <= north; lat += step) {
      L.polyline([[lat, bounds.getWest()], [lat, bounds.getEast()]], style).addTo(layer);
    }
  }

  var clusters = L.markerClusterGroup({
    maxClusterRadius: 45,
    disableClusteringAtZoom: 15,
    showCoverageOnHover: false,
    iconCreateFunction: function (cluster) {
      var counts = [0, 0, 0, 0, 0];  // by level; [0] not assessed yet
      cluster.getAllChildMarkers().forEach(function (marker) { counts[marker.options.level || 0] += 1; });
      return clusterIcon(counts);
    }
  });
  map.addLayer(clusters);
  var serverClusters = L.layerGroup().addTo(map);  // the server's clusters of the view, below zoom 15

  /** A cluster of the server's grid, drawn as the page's own clusters are; a tap zooms into its cell. */
  function addServerCluster(feature) {
    var byLevel = (feature.properties && feature.properties.level_counts) || {};
    var counts = [0, 1, 2, 3, 4].map(function (level) { return byLevel[String(level)] || 0; });
    var lonlat = feature.geometry.coordinates;
    var marker = L.marker([lonlat[1], lonlat[0]], { icon: clusterIcon(counts), keyboard: true });
    var cell = feature.bbox;
    marker.on("click", function () {
      if (cell) { map.fitBounds([[cell[1], cell[0]], [cell[3], cell[2]]]); } else { map.setView(marker.getLatLng(), map.getZoom() + 2); }
    });
    marker.addTo(serverClusters);
  }

  /** A cluster as a ring cut into one arc per level, as long as that level's share of the venues inside, with
   * the count in the middle: a few cases among many green venues read as a thin red arc, not a red province. */
  var RING_RADIUS = 15.9155;  // a circumference of 100: an arc's length is its percentage
  function clusterIcon(counts) {
    var total = counts.reduce(function (a, b) { return a + b; }, 0);
    var worst = 0;
    for (var level = 4; level >= 0 && !worst; level--) { if (counts[level]) { worst = level; } }
    var arcs = "", offset = 25, parts = [];  // start at twelve o'clock
    [4, 3, 2, 1, 0].forEach(function (level) {
      if (!counts[level]) { return; }
      var share = counts[level] * 100 / total;
      arcs += '<circle class="arc" data-level="' + level + '" cx="21" cy="21" r="' + RING_RADIUS + '" stroke-dasharray="' +
        share.toFixed(3) + " " + (100 - share).toFixed(3) + '" stroke-dashoffset="' + offset.toFixed(3) + '"></circle>';
      offset -= share;
      parts.push(t().cluster_part(counts[level], level ? t().level[level] : t().unknown_level));
    });
    var size = total >= 1000 ? 52 : total >= 100 ? 46 : 42;
    return L.divIcon({
      className: "venue-cluster",
      html: '<span class="cluster" data-level="' + worst + '" data-counts="' + counts.join(",") + '" role="img" aria-label="' +
        esc(t().cluster_label(total, parts.join(", "))) + '" title="' + esc(t().cluster_label(total, parts.join(", "))) + '">' +
        '<svg viewBox="0 0 42 42" aria-hidden="true"><circle class="hole" cx="21" cy="21" r="' + RING_RADIUS + '"></circle>' + arcs + "</svg>" +
        '<span class="count">' + total + "</span></span>",
      iconSize: [size, size]
    });
  }

  function venueIcon(props) {
    var level = validLevel(props.level);
    return L.divIcon({
      className: "venue-icon",
      html: '<span class="venue-dot' + (props.venue_id === selectedId ? " selected" : "") + '" data-venue-id="' +
        esc(props.venue_id) + '" data-level="' + level + '" data-color="' + esc(props.color || COLORS[level] || "") +
        '" role="button" aria-label="' + esc(props.name) + " — " + esc(t().level[level] || t().unknown_level) + '"></span>',
      iconSize: [22, 22],
      iconAnchor: [11, 11]
    });
  }

  /** Adds a venue from a GeoJSON feature, or updates the one already shown. New markers go into `batch`
   * when one is given (added to the clusters at once: far faster for thousands), else straight on the map. */
  function upsertFeature(feature, batch) {
    if (!feature || !feature.geometry || feature.geometry.type !== "Point") { return; }
    var props = Object.assign({}, feature.properties || {});
    props.venue_id = props.venue_id || feature.id;
    var lonlat = feature.geometry.coordinates;
    var existing = venues[props.venue_id];
    if (props.active === false) {  // a deactivated venue leaves the map
      if (existing) { clusters.removeLayer(existing.marker); delete venues[props.venue_id]; }
      if (selectedId === props.venue_id) { closePanel(); }
      return;
    }
    if (existing) {
      var before = existing.props.level;
      existing.props = Object.assign(existing.props, props);
      existing.marker.setLatLng([lonlat[1], lonlat[0]]);
      refreshMarker(existing, before !== existing.props.level);
      return;
    }
    var marker = L.marker([lonlat[1], lonlat[0]], { icon: venueIcon(props), level: validLevel(props.level), title: props.name || "" });
    marker.on("click", function () { openPanel(props.venue_id); });
    venues[props.venue_id] = { props: props, marker: marker };
    if (batch) { batch.push(marker); } else { clusters.addLayer(marker); }
  }

  function refreshMarker(entry, levelChanged) {
    entry.marker.options.level = validLevel(entry.props.level);
    entry.marker.setIcon(venueIcon(entry.props));
    clusters.refreshClusters(entry.marker);
    if (levelChanged) {
      var element = entry.marker.getElement();
      var dot = element && element.querySelector(".venue-dot");
      if (dot) { dot.classList.add("changed"); }
    }
    if (entry.props.venue_id === selectedId) { renderPanel(); }
  }

  /** The view as `minLon,minLat,maxLon,maxLat`, within what the API accepts (longitude ±180, latitude ±85). */
  function bboxParam(pad) {
    var b = map.getBounds().pad(pad == null ? 0.25 : pad);
    // A view panned round the world (worldCopyJump) is shifted back to the one the venues are on.
    var shift = Math.round(b.getCenter().lng / 360) * 360;
    var clamp = function (v, lo, hi) { return Math.min(hi, Math.max(lo, v)); };
    return [clamp(b.getWest() - shift, -180, 180), clamp(b.getSouth(), -85, 85), clamp(b.getEast() - shift, -180, 180), clamp(b.getNorth(), -85, 85)]
      .map(function (v) { return v.toFixed(5); }).join(",");
  }

  /** Loads what the view shows: below zoom 15 the server's clusters (with the venues alone in their cell),
   * from 15 the venues in view. The first load asks for the whole world's clusters only to fit the view to the
   * venues (the answer's `extent`), then loads the fitted view. */
  function loadVenues() {
    var zoom = map.getZoom();
    var serverClustered = !fitted || zoom < SERVER_CLUSTERS_BELOW_ZOOM;
    var url = "/v1/map/venues.geojson" + (serverClustered ? "?zoom=" + zoom + (fitted ? "&bbox=" + bboxParam() : "")
      : "?bbox=" + bboxParam());
    return fetch(url, { headers: { accept: "application/geo+json, application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (collection) {
        if (!fitted) {
          // The first view is fitted at once, before anything is drawn: markers appear where they stay,
          // rather than flying in with a zoom animation while someone is already tapping them.
          fitted = true;
          var extent = collection.extent;
          if (extent) {
            map.fitBounds([[extent[1], extent[0]], [extent[3], extent[2]]], { padding: [40, 40], maxZoom: 15, animate: false });
            clearTimeout(reloadTimer);
            return loadVenues();
          }
          showNotice(t().no_venues);
        }
        var added = [];
        var shown = {};
        serverClusters.clearLayers();
        (collection.features || []).forEach(function (feature) {
          if (feature.properties && feature.properties.cluster) { addServerCluster(feature); return; }
          upsertFeature(feature, added);
          shown[(feature.properties && feature.properties.venue_id) || feature.id] = true;
        });
        clustered = collection.clustered === true;
        if (clustered) {  // a venue now inside a server cluster leaves the page's own markers
          var gone = Object.keys(venues).filter(function (id) { return !shown[id] && id !== selectedId; });
          clusters.removeLayers(gone.map(function (id) { return venues[id].marker; }));
          gone.forEach(function (id) { delete venues[id]; });
        }
        if (collection.truncated) { showNotice(t().truncated); } else if (collection.extent !== null) { hideNotice(); }
        clusters.addLayers(added);
        document.body.setAttribute("data-loaded", "true");
      })
      .catch(function () {
        showNotice(t().load_failed);
        scheduleReload(5000);
      });
  }

  /** A change to a venue the view holds inside a server cluster: the clusters are asked for again, at most
   * every CLUSTER_REFRESH_MS whatever the rate of changes. */
  function refreshClustersSoon() {
    if (!clustered || clusterRefreshTimer) { return; }
    clusterRefreshTimer = setTimeout(function () { clusterRefreshTimer = null; loadVenues(); }, CLUSTER_REFRESH_MS);
  }

  function scheduleReload(delay) {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(loadVenues, delay);
  }
  map.on("moveend", function () {
    if (!fitted) { return; }
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(function () {
      // A view beyond the stream's area subscribes afresh; the new stream's opening loads the view, so no change
      // between the load and the subscription is missed. Within it, the view is simply loaded.
      if (!followView()) { loadVenues(); }
    }, RELOAD_DEBOUNCE_MS);
  });

  // --- live updates --------------------------------------------------------------------------------
  function applyRisk(data) {
    var entry = venues[data.venue_id];
    if (!entry) { refreshClustersSoon(); return; }
    var before = entry.props.level;
    entry.props.level = data.level;
    entry.props.color = data.color;
    entry.props.reasons = data.reasons || [];
    if (data.as_of) { entry.props.as_of = data.as_of; }
    refreshMarker(entry, before !== data.level);
  }

  function applyOccupancy(data) {
    var entry = venues[data.venue_id];
    if (!entry) { return; }
    entry.props.current = data.current;
    if (data.capacity != null) { entry.props.capacity = data.capacity; }
    if (data.venue_id === selectedId) { renderPanel(); }
  }

  function setStatus(state) {
    var element = document.getElementById("status");
    element.setAttribute("data-state", state);
    element.querySelector(".status-text").textContent = t()["status_" + state];
    element.title = t()["status_" + state];
  }

  /** The live stream of the view's area (the view and as much again around it): only the changes of venues
   * there, and every area's. */
  var source = null;
  var streamBox = null;  // [west, south, east, north] the stream follows
  function viewBox(pad) {
    return bboxParam(pad).split(",").map(Number);
  }
  /** Subscribes to the view's area when the view has left the current one, or zoomed well into it (the area
   * then holds four times what a new one would: changes the view would not show); true if it did. */
  function followView() {
    if (!window.EventSource || !source) { return false; }
    var view = viewBox(0.25), area = viewBox(1);
    var size = function (box) { return (box[2] - box[0]) * (box[3] - box[1]); };
    if (streamBox && view[0] >= streamBox[0] && view[1] >= streamBox[1] && view[2] <= streamBox[2] && view[3] <= streamBox[3] &&
        size(streamBox) <= 4 * size(area)) {
      return false;
    }
    connect();
    return true;
  }

  function connect() {
    if (!window.EventSource) { return; }
    var previous = source;
    streamBox = viewBox(1);
    var stream = new EventSource("/v1/stream?bbox=" + streamBox.map(function (v) { return v.toFixed(5); }).join(","));
    source = stream;
    stream.onopen = function () {
      if (previous) { previous.close(); previous = null; }
      // After a reconnection or a new subscription, changes may have been missed: reload what is in view.
      if (everConnected) { scheduleReload(0); }
      everConnected = true;
      setStatus("live");
    };
    stream.onerror = function () {
      if (stream !== source) { stream.close(); return; }
      setStatus("reconnecting");
      if (stream.readyState === EventSource.CLOSED) {  // the browser gave up: start again ourselves
        setTimeout(function () { if (stream === source) { connect(); } }, 5000);
      }
    };
    var on = function (name, handler) {
      stream.addEventListener(name, function (event) {
        try { handler(JSON.parse(event.data)); } catch (e) { /* a malformed event changes nothing */ }
      });
    };
    on("venue-risk", applyRisk);
    on("occupancy", applyOccupancy);
    on("venue", function (feature) {
      var id = feature && ((feature.properties && feature.properties.venue_id) || feature.id);
      // Inside a server cluster a new venue is counted by the server, not added beside it.
      if (clustered && !venues[id]) { refreshClustersSoon(); } else { upsertFeature(feature); }
    });
    on("area-risk", function (area) {
      if (area.area_code && area.name) { areaNames[area.area_code] = area.name; }
      var parent = area.area_kind === "province" ? "" : area.parent_code;
      var rows = parent != null && areaRows[parent];
      if (rows) {
        var at = rows.findIndex(function (row) { return row.area_code === area.area_code; });
        if (at >= 0) { rows[at] = area; } else { rows.push(area); }
        renderAreas();
      }
    });
  }

  // --- the venue panel -----------------------------------------------------------------------------
  var panel = document.getElementById("panel");
  var narrow = window.matchMedia("(max-width: 640px)");
  panel.querySelector(".panel-close").addEventListener("click", closePanel);
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") { closePanel(); closeAreasPanel(); } });
  map.on("click", closePanel);

  function openPanel(id) {
    closeAreasPanel();
    var previous = selectedId;
    selectedId = id;
    if (previous && venues[previous]) { refreshMarker(venues[previous], false); }
    if (venues[id]) { refreshMarker(venues[id], false); }
    panel.hidden = false;
    renderPanel();
    keepInSight(id);
    fetch("/v1/map/venues/" + encodeURIComponent(id))
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (detail) {
        if (detail && venues[id]) {
          Object.assign(venues[id].props, detail);
          if (id === selectedId) { renderPanel(); }
        }
      })
      .catch(function () { /* the panel keeps what the map already knew */ });
  }

  /** On a phone the panel is a bottom sheet: the venue it describes is panned into the map above it. */
  function keepInSight(id) {
    if (!narrow.matches || !venues[id]) { return; }
    var point = map.latLngToContainerPoint(venues[id].marker.getLatLng());
    var sheetTop = map.getSize().y - panel.offsetHeight;
    if (point.y > sheetTop - 30) { map.panBy([0, point.y - sheetTop / 2]); }
  }

  function closePanel() {
    if (!selectedId) { return; }
    var previous = selectedId;
    selectedId = null;
    panel.hidden = true;
    if (venues[previous]) { refreshMarker(venues[previous], false); }
  }

  function renderPanel() {
    var entry = selectedId && venues[selectedId];
    if (!entry) { return; }
    var p = entry.props;
    var level = validLevel(p.level);
    var reasons = (p.reasons || []).map(function (r) { return "<li data-code=\"" + esc(r.code) + "\">" + esc(reasonText(r, p)) + "</li>"; }).join("");
    var current = typeof p.current === "number" ? p.current : 0;
    var capacity = typeof p.capacity === "number" && p.capacity > 0 ? p.capacity : null;
    var ratio = capacity ? current / capacity : 0;
    var barClass = ratio > 1 ? "over" : ratio >= 0.8 ? "near" : "";
    panel.querySelector(".panel-body").innerHTML =
      "<h2>" + esc(p.name) + "</h2>" +
      '<p class="meta">' + esc(t().category[p.category] || p.category || "") + (p.address ? " · " + esc(p.address) : "") + "</p>" +
      '<span class="level-badge" data-level="' + level + '">' + (level ? t().level_short + " " + level + ": " + esc(t().level[level]) : esc(t().unknown_level)) + "</span>" +
      "<h3>" + esc(t().reasons) + "</h3>" +
      '<ul class="reasons">' + (reasons || "<li>" + esc(t().unknown_level) + "</li>") + "</ul>" +
      "<h3>" + esc(t().occupancy) + "</h3>" +
      '<div class="occupancy-text" data-current="' + current + '">' + current + (capacity ? " / " + capacity + " " + esc(t().people) : " " + esc(t().people) + " (" + esc(t().no_capacity) + ")") + "</div>" +
      (capacity ? '<div class="bar" role="meter" aria-label="' + esc(t().occupancy) + '" aria-valuemin="0" aria-valuemax="' + capacity + '" aria-valuenow="' + current + '"><div class="bar-fill ' + barClass + '" style="width:' + Math.min(100, Math.round(ratio * 100)) + '%"></div></div>' : "") +
      (p.as_of ? '<p class="as-of">' + esc(t().as_of) + " " + esc(formatTime(p.as_of)) + "</p>" : "");
    panel.querySelector(".panel-close").setAttribute("aria-label", t().close);
  }

  // --- search ------------------------------------------------------------------------------------
  var SEARCH_DEBOUNCE_MS = 250;
  var SEARCH_MIN_CHARS = 2;
  var searchInput = document.getElementById("search-input");
  var searchList = document.getElementById("search-results");
  var searchStatus = document.getElementById("search-status");
  var searchTimer = null;
  var searchSeq = 0;
  var searchHits = [];
  var activeHit = -1;

  document.getElementById("search").addEventListener("submit", function (event) {
    event.preventDefault();
    if (activeHit < 0 && searchHits.length) { activeHit = 0; }
    if (activeHit >= 0) { chooseHit(activeHit); }
  });
  searchInput.addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, SEARCH_DEBOUNCE_MS);
  });
  searchInput.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!searchHits.length) { return; }
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      setActiveHit((activeHit + step + searchHits.length) % searchHits.length);
    } else if (event.key === "Escape") {
      event.stopPropagation();
      closeResults();
    }
  });
  searchInput.addEventListener("blur", function () { setTimeout(closeResults, 200); });

  function runSearch() {
    var query = searchInput.value.trim();
    var seq = ++searchSeq;
    if (query.length < SEARCH_MIN_CHARS) { searchHits = []; closeResults(); return; }
    fetch("/v1/map/search?limit=8&q=" + encodeURIComponent(query))
      .then(function (response) { if (!response.ok) { throw new Error("HTTP " + response.status); } return response.json(); })
      .then(function (answer) { if (seq === searchSeq) { showResults(answer.results || [], answer.truncated); } })
      .catch(function () { if (seq === searchSeq) { searchHits = []; renderResults(t().search_failed); } });
  }

  function showResults(hits, more) {
    searchHits = hits;
    activeHit = -1;
    renderResults(hits.length ? null : t().search_none);
    searchStatus.textContent = hits.length ? t().search_count(hits.length, more) : t().search_none;
  }

  function renderResults(emptyText) {
    searchList.innerHTML = emptyText
      ? '<li class="empty" role="option" aria-disabled="true" aria-selected="false">' + esc(emptyText) + "</li>"
      : searchHits.map(function (hit, i) {
        var level = validLevel(hit.level);
        return '<li role="option" id="search-hit-' + i + '" aria-selected="false" data-venue-id="' + esc(hit.venue_id) + '">' +
          '<span class="swatch" data-level="' + level + '" aria-hidden="true"></span><span><span class="name">' + esc(hit.name) +
          '</span><span class="address">' + esc(hit.address) + " · " + esc(level ? t().level_short + " " + level : t().unknown_level) + "</span></span></li>";
      }).join("");
    searchList.hidden = false;
    searchInput.setAttribute("aria-expanded", "true");
    searchInput.removeAttribute("aria-activedescendant");
    searchList.querySelectorAll("li[data-venue-id]").forEach(function (item, i) {
      item.addEventListener("mousedown", function (event) { event.preventDefault(); chooseHit(i); });
    });
  }

  function setActiveHit(index) {
    activeHit = index;
    searchList.querySelectorAll("li[data-venue-id]").forEach(function (item, i) {
      item.setAttribute("aria-selected", String(i === index));
      if (i === index) { item.scrollIntoView({ block: "nearest" }); }
    });
    searchInput.setAttribute("aria-activedescendant", "search-hit-" + index);
  }

  function closeResults() {
    searchList.hidden = true;
    searchInput.setAttribute("aria-expanded", "false");
    searchInput.removeAttribute("aria-activedescendant");
    activeHit = -1;
  }

  /** Flies to the chosen venue and opens its panel (adding it to the map first if it was not in view). */
  function chooseHit(index) {
    var hit = searchHits[index];
    if (!hit) { return; }
    closeResults();
    searchInput.value = hit.name;
    upsertFeature({
      type: "Feature", id: hit.venue_id, geometry: { type: "Point", coordinates: [hit.lon, hit.lat] },
      properties: { venue_id: hit.venue_id, name: hit.name, address: hit.address, category: hit.category, level: hit.level, color: hit.color }
    });
    map.flyTo([hit.lat, hit.lon], Math.max(map.getZoom(), 16), { duration: 0.8 });
    map.once("moveend", function () { openPanel(hit.venue_id); });
  }

  // --- areas: province, districts, wards with their levels (GET /v1/areas), one level opened at a time ---
  var areasPanel = document.getElementById("areas");
  var areasToggle = document.getElementById("areas-toggle");
  var areaTree = document.getElementById("area-tree");
  var areaRows = {};  // parent code ("" for the provinces) -> the areas under it, once loaded
  var openAreas = {}; // area code -> its children are shown

  areasToggle.addEventListener("click", function () { if (areasPanel.hidden) { openAreasPanel(); } else { closeAreasPanel(); } });
  areasPanel.querySelector(".areas-close").addEventListener("click", closeAreasPanel);

  function openAreasPanel() {
    closePanel();
    areasPanel.hidden = false;
    areasToggle.setAttribute("aria-expanded", "true");
    loadAreas("");
    areasPanel.querySelector(".areas-close").focus();
  }
  function closeAreasPanel() {
    if (areasPanel.hidden) { return; }
    areasPanel.hidden = true;
    areasToggle.setAttribute("aria-expanded", "false");
    areasToggle.focus();
  }

  function loadAreas(parent) {
    var url = parent ? "/v1/areas?parent=" + encodeURIComponent(parent) : "/v1/areas?kind=province";
    return fetch(url)
      .then(function (response) { if (!response.ok) { throw new Error("HTTP " + response.status); } return response.json(); })
      .then(function (list) {
        list.sort(function (a, b) { return (b.level || 0) - (a.level || 0) || String(a.name).localeCompare(String(b.name), "vi"); });
        list.forEach(function (area) { if (area.name) { areaNames[area.area_code] = area.name; } });
        areaRows[parent] = list;
        renderAreas();
      })
      .catch(function () { areaRows[parent] = areaRows[parent] || []; renderAreas(); });
  }

  function areaItem(area) {
    var level = validLevel(area.level);
    var children = area.area_kind !== "ward";
    var expanded = !!openAreas[area.area_code];
    var reasons = (area.reasons || []).map(function (r) { return esc(reasonText(r, {})); }).join("; ");
    var sub = "";
    if (expanded) {
      var rows = areaRows[area.area_code];
      sub = '<ul role="group">' + (rows ? rows.map(areaItem).join("") : "<li>" + esc(t().areas_loading) + "</li>") + "</ul>";
    }
    return '<li class="area" data-area-code="' + esc(area.area_code) + '" data-level="' + level + '">' +
      '<div class="area-row">' +
      (children ? '<button type="button" class="area-open" aria-expanded="' + expanded + '" aria-label="' + esc(t().areas_show(area.name)) + '">' + (expanded ? "−" : "+") + "</button>" : '<span class="area-open-space"></span>') +
      '<span class="area-name">' + esc(area.name) + ' <small>' + esc(areaKind(area.area_kind)) + "</small></span>" +
      '<span class="level-badge" data-level="' + level + '">' + (level ? t().level_short + " " + level : esc(t().unknown_level)) + "</span></div>" +
      '<p class="area-reason">' + (level ? esc(t().level[level]) + ": " : "") + reasons + "</p>" + sub + "</li>";
  }

  function renderAreas() {
    if (areasPanel.hidden) { return; }
    var provinces = areaRows[""];
    areaTree.innerHTML = !provinces ? "<li>" + esc(t().areas_loading) + "</li>"
      : provinces.length ? provinces.map(areaItem).join("") : "<li>" + esc(t().areas_none) + "</li>";
  }

  areaTree.addEventListener("click", function (event) {
    var button = event.target.closest(".area-open");
    if (!button) { return; }
    var code = button.closest(".area").getAttribute("data-area-code");
    openAreas[code] = !openAreas[code];
    if (openAreas[code] && !areaRows[code]) { loadAreas(code); }
    renderAreas();
    var again = areaTree.querySelector('.area[data-area-code="' + code + '"] .area-open');
    if (again) { again.focus(); }
  });

  // --- legend, language, notices -------------------------------------------------------------------
  var legend = L.control({ position: "bottomleft" });
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "legend");
    div.id = "legend";
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  legend.addTo(map);

  function renderLegend() {
    document.getElementById("legend").innerHTML = "<h2>" + esc(t().legend_title) + "</h2><ul>" +
      LEVELS.map(function (level) {
        return '<li data-level="' + level + '"><span class="swatch" data-level="' + level + '"></span>' + level + ". " + esc(t().level[level]) + "</li>";
      }).join("") + "</ul>" +
      '<p class="legend-cluster">' + clusterIcon([0, 2, 1, 0, 1]).options.html.replace(/ role="img"[^>]*>/, ' aria-hidden="true">') +
      "<span>" + esc(t().legend_cluster) + "</span></p>";
  }

  function showNotice(text) { var n = document.getElementById("notice"); n.textContent = text; n.hidden = false; }
  function hideNotice() { document.getElementById("notice").hidden = true; }

  function applyLanguage() {
    document.documentElement.lang = lang;
    document.title = "Antoan — " + t().title;
    document.querySelectorAll("[data-i18n]").forEach(function (element) {
      element.textContent = t()[element.getAttribute("data-i18n")];
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (element) {
      element.setAttribute("placeholder", t()[element.getAttribute("data-i18n-placeholder")]);
    });
    document.querySelectorAll("[data-i18n-label]").forEach(function (element) {
      element.setAttribute("aria-label", t()[element.getAttribute("data-i18n-label")]);
    });
    document.querySelectorAll(".lang button").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-lang") === lang));
    });
    setStatus(document.getElementById("status").getAttribute("data-state"));
    renderLegend();
    renderAreas();
    renderPlaces();
    Object.keys(venues).forEach(function (id) { venues[id].marker.setIcon(venueIcon(venues[id].props)); });
    clusters.refreshClusters();
    renderPanel();
  }

  document.querySelectorAll(".lang button").forEach(function (button) {
    button.addEventListener("click", function () {
      lang = button.getAttribute("data-lang") === "en" ? "en" : "vi";
      try { localStorage.setItem(LANG_KEY, lang); } catch (e) { /* private mode: the choice lasts this visit */ }
      applyLanguage();
    });
  });

  applyLanguage();
  loadVenues().then(connect);
})();
