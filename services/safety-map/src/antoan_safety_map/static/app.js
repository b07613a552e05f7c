/* The public safety map: venues coloured by risk level, live over Server-Sent Events.
 * Plain JavaScript, no build step. Leaflet and Leaflet.markercluster are vendored from npm (static/vendor).
 * Nothing here reaches beyond this service, except map tiles when the deployment configures a tile server. */
(function () {
  "use strict";

  var LEVELS = [1, 2, 3, 4];
  var COLORS = { 1: "green", 2: "yellow", 3: "orange", 4: "red" };
  var RELOAD_DEBOUNCE_MS = 400;
  var LANG_KEY = "antoan.lang";

  var TEXT = {
    vi: {
      title: "Bản đồ an toàn COVID",
      legend_title: "Mức độ nguy cơ",
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
      area_kind: { ward: "Phường/xã", district: "Quận/huyện", province: "Tỉnh/thành phố" },
      category: {
        office: "Văn phòng", hospital: "Bệnh viện", school: "Trường học", company: "Công ty",
        supermarket: "Siêu thị", market: "Chợ", hotel: "Khách sạn", restaurant: "Nhà hàng",
        cafe: "Quán cà phê", shop: "Cửa hàng", factory: "Nhà máy", government: "Cơ quan nhà nước",
        place_of_worship: "Cơ sở tôn giáo", public_transport: "Phương tiện giao thông công cộng", other: "Khác"
      },
      reason: {
        case_present_72h: function (d) { return "Có ca bệnh (F0) đến địa điểm trong 72 giờ qua" + when(d.last_present_at, " (có mặt đến ", ")"); },
        case_present_14d: function (d) { return "Có ca bệnh (F0) đến địa điểm trong 14 ngày qua" + when(d.last_present_at, " (có mặt đến ", ")"); },
        over_capacity: function (d, v) { return "Vượt sức chứa: " + headcount(d, v) + " người"; },
        near_capacity: function (d, v) { return "Gần đạt sức chứa: " + headcount(d, v) + " người" + pct(d.ratio, " (từ ", "% sức chứa)"); },
        low_self_assessment: function (d) { return "Điểm tự đánh giá an toàn thấp: " + num(d.score) + "/100" + (d.threshold != null ? " (dưới " + num(d.threshold) + ")" : ""); },
        area_level: function (d) { return areaLabel(d) + " ở cấp độ " + num(d.level) + levelName(d.level, " — "); },
        cleared: function (d) { return "Đã được cơ quan y tế xác nhận khử khuẩn" + when(d.cleared_at, " (", ")"); },
        no_risk_factors: function () { return "Không có yếu tố nguy cơ"; }
      }
    },
    en: {
      title: "COVID safety map",
      legend_title: "Risk level",
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
      area_kind: { ward: "Ward", district: "District", province: "Province" },
      category: {
        office: "Office", hospital: "Hospital", school: "School", company: "Company",
        supermarket: "Supermarket", market: "Market", hotel: "Hotel", restaurant: "Restaurant",
        cafe: "Café", shop: "Shop", factory: "Factory", government: "Government office",
        place_of_worship: "Place of worship", public_transport: "Public transport", other: "Other"
      },
      reason: {
        case_present_72h: function (d) { return "A confirmed case (F0) was here in the last 72 hours" + when(d.last_present_at, " (present until ", ")"); },
        case_present_14d: function (d) { return "A confirmed case (F0) was here in the last 14 days" + when(d.last_present_at, " (present until ", ")"); },
        over_capacity: function (d, v) { return "Over capacity: " + headcount(d, v) + " people"; },
        near_capacity: function (d, v) { return "Near capacity: " + headcount(d, v) + " people" + pct(d.ratio, " (", "% of capacity or more)"); },
        low_self_assessment: function (d) { return "Low safety self-assessment: " + num(d.score) + "/100" + (d.threshold != null ? " (below " + num(d.threshold) + ")" : ""); },
        area_level: function (d) { return areaLabel(d) + " is at level " + num(d.level) + levelName(d.level, " — "); },
        cleared: function (d) { return "Cleared by the health authority after disinfection" + when(d.cleared_at, " (", ")"); },
        no_risk_factors: function () { return "No risk factors"; }
      }
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
  var everConnected = false;

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
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { attribution: config.tile_attribution || "", maxZoom: 19 }).addTo(map);
  } else {
    document.getElementById("map").classList.add("no-tiles");
    var graticule = L.layerGroup().addTo(map);
    map.on("moveend", function () { drawGraticule(graticule); });
    drawGraticule(graticule);
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
      var worst = 0;
      cluster.getAllChildMarkers().forEach(function (marker) { worst = Math.max(worst, marker.options.level || 0); });
      var count = cluster.getChildCount();
      return L.divIcon({
        className: "venue-cluster",
        html: '<span data-level="' + worst + '" title="' + esc(t().level[worst] || "") + '">' + count + "</span>",
        iconSize: [40, 40]
      });
    }
  });
  map.addLayer(clusters);

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
  function bboxParam() {
    var b = map.getBounds().pad(0.25);
    // A view panned round the world (worldCopyJump) is shifted back to the one the venues are on.
    var shift = Math.round(b.getCenter().lng / 360) * 360;
    var clamp = function (v, lo, hi) { return Math.min(hi, Math.max(lo, v)); };
    return [clamp(b.getWest() - shift, -180, 180), clamp(b.getSouth(), -85, 85), clamp(b.getEast() - shift, -180, 180), clamp(b.getNorth(), -85, 85)]
      .map(function (v) { return v.toFixed(5); }).join(",");
  }

  /** Loads the venues (of the view once the first load has fitted it); fits the view to them the first time. */
  function loadVenues() {
    var url = "/v1/map/venues.geojson" + (fitted ? "?bbox=" + bboxParam() : "");
    return fetch(url, { headers: { accept: "application/geo+json, application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (collection) {
        var added = [];
        (collection.features || []).forEach(function (feature) { upsertFeature(feature, added); });
        if (collection.truncated) { showNotice(t().truncated); } else { hideNotice(); }
        if (!fitted) {
          // The first view is fitted at once, before the markers are added: they appear where they stay,
          // rather than flying in with a zoom animation while someone is already tapping them.
          fitted = true;
          var ids = Object.keys(venues);
          if (ids.length) {
            var bounds = L.latLngBounds(ids.map(function (id) { return venues[id].marker.getLatLng(); }));
            map.fitBounds(bounds, { padding: [40, 40], maxZoom: 15, animate: false });
          } else {
            showNotice(t().no_venues);
          }
        }
        clusters.addLayers(added);
        document.body.setAttribute("data-loaded", "true");
      })
      .catch(function () {
        showNotice(t().load_failed);
        scheduleReload(5000);
      });
  }

  function scheduleReload(delay) {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(loadVenues, delay);
  }
  map.on("moveend", function () { if (fitted) { scheduleReload(RELOAD_DEBOUNCE_MS); } });

  // --- live updates --------------------------------------------------------------------------------
  function applyRisk(data) {
    var entry = venues[data.venue_id];
    if (!entry) { return; }
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

  function connect() {
    if (!window.EventSource) { return; }
    var source = new EventSource("/v1/stream");
    source.onopen = function () {
      // After a reconnection, changes may have been missed: reload what is in view.
      if (everConnected) { scheduleReload(0); }
      everConnected = true;
      setStatus("live");
    };
    source.onerror = function () {
      setStatus("reconnecting");
      if (source.readyState === EventSource.CLOSED) {  // the browser gave up: start again ourselves
        setTimeout(connect, 5000);
      }
    };
    var on = function (name, handler) {
      source.addEventListener(name, function (event) {
        try { handler(JSON.parse(event.data)); } catch (e) { /* a malformed event changes nothing */ }
      });
    };
    on("venue-risk", applyRisk);
    on("occupancy", applyOccupancy);
    on("venue", function (feature) { upsertFeature(feature); });
    on("area-risk", function (area) {
      if (area.area_code && area.name) { areaNames[area.area_code] = area.name; }
    });
  }

  // --- the venue panel -----------------------------------------------------------------------------
  var panel = document.getElementById("panel");
  var narrow = window.matchMedia("(max-width: 640px)");
  panel.querySelector(".panel-close").addEventListener("click", closePanel);
  document.addEventListener("keydown", function (event) { if (event.key === "Escape") { closePanel(); } });
  map.on("click", closePanel);

  function openPanel(id) {
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
      (capacity ? '<div class="bar" role="meter" aria-valuemin="0" aria-valuemax="' + capacity + '" aria-valuenow="' + current + '"><div class="bar-fill ' + barClass + '" style="width:' + Math.min(100, Math.round(ratio * 100)) + '%"></div></div>' : "") +
      (p.as_of ? '<p class="as-of">' + esc(t().as_of) + " " + esc(formatTime(p.as_of)) + "</p>" : "");
    panel.querySelector(".panel-close").setAttribute("aria-label", t().close);
  }

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
      }).join("") + "</ul>";
  }

  function showNotice(text) { var n = document.getElementById("notice"); n.textContent = text; n.hidden = false; }
  function hideNotice() { document.getElementById("notice").hidden = true; }

  function applyLanguage() {
    document.documentElement.lang = lang;
    document.title = "Antoan — " + t().title;
    document.querySelectorAll("[data-i18n]").forEach(function (element) {
      element.textContent = t()[element.getAttribute("data-i18n")];
    });
    document.querySelectorAll(".lang button").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-lang") === lang));
    });
    setStatus(document.getElementById("status").getAttribute("data-state"));
    renderLegend();
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
