/* The entrance screen (SPEC §3.2, §3.3): the venue's rotating QR code, big, and how many people are in
 * against the capacity, left running unattended for hours.
 *
 * The code (GET /v1/venues/{id}/qr/rotating.png with the venue's key; `X-Expires-At` says until when it is
 * taken) is fetched again at two thirds of its life, and after a failure again and again with a growing
 * pause; a code past its expiry is taken off the screen, so nobody scans one that would be refused. Its
 * life is measured on the server's clock (`Date` against `X-Expires-At`), so a screen whose clock is wrong
 * still renews in time. Images are data: URLs (no object URL to leak), and every timer is a single one
 * replaced, never added to. Occupancy is polled every few seconds from the safety map
 * (GET /v1/venues/{id}/occupancy): the map's live stream carries every venue's changes, far more than one
 * screen needs. */
(function () {
  "use strict";

  var portal = window.AntoanPortal;
  var $ = portal.$;
  var show = portal.show;
  var RENEW_AT = 2 / 3;                // of a code's life
  var FALLBACK_LIFE_MS = 60000;        // a code whose answer lacks X-Expires-At
  var DATE_RESOLUTION_MS = 1000;       // the Date header counts whole seconds
  var RETRY_FIRST_MS = 1000;
  var RETRY_MAX_MS = 30000;
  var CODE_TIMEOUT_MS = 10000;
  var OCCUPANCY_EVERY_MS = 5000;
  var OCCUPANCY_STALE_MS = 30000;
  var VENUE_EVERY_MS = 10 * 60 * 1000;  // a rename, a new capacity, a deactivation
  var NEAR_CAPACITY = 0.8;              // the risk rules' "near capacity" (SPEC §3.6)
  var NOT_FOUND_TRIES = 3;              // a venue just registered may be a moment from another ingest process
  var STOPPING = ["venue_key_required", "invalid_venue_key", "venue_inactive"];

  var TEXT = {
    vi: {
      page_title: "Antoan — Màn hình lối vào",
      title: "Màn hình lối vào",
      back: "Tổng quan",
      fullscreen: "Toàn màn hình",
      fullscreen_exit: "Thoát toàn màn hình",
      loading: "Đang tải…",
      code_alt: function (name) { return "Mã QR để khai báo vào/ra tại " + name; },
      code_stale: "Đang lấy mã mới…",
      scan_title: "Quét mã để khai báo VÀO và RA",
      scan_hint: "Mở camera điện thoại và hướng vào mã. Không cần cài ứng dụng.",
      renews_in: function (seconds) { return "Mã tự đổi sau " + clock(seconds); },
      retrying: function (seconds, reason) { return "Chưa lấy được mã mới (" + reason + "). Thử lại sau " + clock(seconds) + "."; },
      present: "Đang có mặt",
      state_ok: "Còn chỗ",
      state_near: "Gần đủ chỗ",
      state_over: "Đã quá sức chứa: xin chờ ở ngoài",
      state_unknown: "Chưa có số liệu",
      as_of: function (time) { return "Số liệu lúc " + time + ": đang mất kết nối."; },
      stopped_key: "Khoá của cơ sở không còn đúng. Hãy đăng nhập lại.",
      stopped_inactive: "Cơ sở đã ngừng hoạt động: màn hình không còn hiện mã."
    },
    en: {
      page_title: "Antoan — Entrance screen",
      title: "Entrance screen",
      back: "Overview",
      fullscreen: "Full screen",
      fullscreen_exit: "Leave full screen",
      loading: "Loading…",
      code_alt: function (name) { return "QR code to check in and out at " + name; },
      code_stale: "Getting a new code…",
      scan_title: "Scan to check IN and OUT",
      scan_hint: "Point your phone's camera at the code. No app needed.",
      renews_in: function (seconds) { return "The code changes in " + clock(seconds); },
      retrying: function (seconds, reason) { return "No new code yet (" + reason + "). Trying again in " + clock(seconds) + "."; },
      present: "Present now",
      state_ok: "Room available",
      state_near: "Nearly full",
      state_over: "Over capacity: please wait outside",
      state_unknown: "No figure yet",
      as_of: function (time) { return "Figure as of " + time + ": connection lost."; },
      stopped_key: "The venue's key no longer works. Sign in again.",
      stopped_inactive: "The venue has been deactivated: the screen shows no code."
    }
  };

  function clock(seconds) {
    var s = Math.max(0, Math.ceil(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  var i18n = portal.start(TEXT, render);
  var t = i18n.t;
  var creds = portal.requireSignIn("kiosk");
  var venue = null;
  var code = { timer: null, nextAt: 0, validUntil: 0, fetching: false, failures: 0, lastError: null, renewals: 0 };
  var occupancy = { timer: null, asking: false, current: null, capacity: null, seenAt: 0, failing: false };
  var venueTimer = null;
  var ticker = null;
  var stopped = null;   // the refusal that ended the screen
  var wakeLock = null;

  function path(tail) { return portal.venuePath(creds.venue_id, tail); }

  // --- the code ------------------------------------------------------------------------------------
  function scheduleCode(delay) {
    clearTimeout(code.timer);
    code.nextAt = Date.now() + delay;
    code.timer = setTimeout(fetchCode, delay);
  }

  /** How long the code just fetched is taken, on the server's clock. */
  function lifeOf(headers) {
    var expires = Date.parse(headers.get("X-Expires-At") || "");
    if (isNaN(expires)) { return FALLBACK_LIFE_MS; }
    var serverNow = Date.parse(headers.get("Date") || "");
    var now = isNaN(serverNow) ? Date.now() : serverNow + DATE_RESOLUTION_MS;
    return Math.max(RETRY_FIRST_MS, expires - now);
  }

  function fetchCode() {
    if (stopped || code.fetching) { return; }
    clearTimeout(code.timer);
    code.fetching = true;
    portal.api("GET", path("/qr/rotating.png"), { key: creds.api_key, as: "blob", timeout: CODE_TIMEOUT_MS }).then(function (answer) {
      if (!answer.ok) { codeFailed(answer.code); return undefined; }
      var life = lifeOf(answer.headers);
      var receivedAt = Date.now();
      return portal.dataUrl(answer.blob).then(function (url) {
        var image = $("code");
        image.src = url;
        code.validUntil = receivedAt + life;
        code.failures = 0;
        code.lastError = null;
        code.renewals += 1;
        image.setAttribute("data-expires-at", answer.headers.get("X-Expires-At") || "");
        image.setAttribute("data-renewals", String(code.renewals));
        scheduleCode(life * RENEW_AT);
        render();
      });
    }).catch(function () {
      codeFailed("other");
    }).then(function () {
      code.fetching = false;
    });
  }

  function codeFailed(errorCode) {
    code.failures += 1;
    code.lastError = errorCode;
    if (STOPPING.indexOf(errorCode) >= 0 || (errorCode === "venue_not_found" && code.failures >= NOT_FOUND_TRIES)) {
      stop(errorCode);
      return;
    }
    scheduleCode(Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * Math.pow(2, code.failures - 1)));
    render();
  }

  /** Every second: the countdown, and a code past its expiry taken off the screen (and asked for again,
   * should its timer have slept through: a screen asleep, a tab in the background). */
  function tick() {
    if (stopped) { return; }
    var expired = code.validUntil > 0 && Date.now() >= code.validUntil;
    if (expired && !code.fetching && (!code.lastError || Date.now() >= code.nextAt)) { fetchCode(); }
    renderCode();
  }

  // --- occupancy and the venue ---------------------------------------------------------------------
  function pollOccupancy() {
    // One question at a time, one timer: a poll asked for while one is under way (the screen woken up) is
    // that one, so the polls never multiply over hours.
    if (occupancy.asking) { return; }
    clearTimeout(occupancy.timer);
    occupancy.asking = true;
    portal.api("GET", path("/occupancy"), { timeout: OCCUPANCY_EVERY_MS }).then(function (answer) {
      occupancy.asking = false;
      if (answer.ok && answer.body && typeof answer.body.current === "number") {
        occupancy.current = answer.body.current;
        occupancy.capacity = answer.body.capacity;
        occupancy.seenAt = Date.now();
        occupancy.failing = false;
      } else {
        occupancy.failing = answer.code !== "venue_not_found";  // not on the map yet: no figure, no alarm
      }
      renderOccupancy();
      if (!stopped) { occupancy.timer = setTimeout(pollOccupancy, OCCUPANCY_EVERY_MS); }
    });
  }

  function loadVenue() {
    clearTimeout(venueTimer);
    portal.api("GET", path("")).then(function (answer) {
      if (answer.ok && answer.body) {
        venue = answer.body;
        portal.rename(venue.venue_id, venue.name);
        if (!venue.active) { stop("venue_inactive"); return; }
        render();
      }
      if (!stopped) { venueTimer = setTimeout(loadVenue, VENUE_EVERY_MS); }
    });
  }

  function stop(errorCode) {
    stopped = errorCode;
    clearTimeout(code.timer);
    clearTimeout(occupancy.timer);
    clearTimeout(venueTimer);
    clearInterval(ticker);
    $("code").removeAttribute("src");
    document.body.setAttribute("data-state", "stopped");
    var link = $("problem-link");
    if (errorCode === "venue_inactive") {
      link.href = portal.pageUrl("dashboard", creds.venue_id);
      link.setAttribute("data-i18n", "back");
    } else {
      portal.signOut();
      link.href = portal.pageUrl("dashboard", creds.venue_id, { next: "kiosk" });
    }
    show(link, true);
    show($("problem"), true);
    render();
  }

  // --- rendering -----------------------------------------------------------------------------------
  function render() {
    if (!creds) { return; }
    var name = venue ? venue.name : creds.name;
    var heading = $("kiosk-venue");
    if (name) {
      heading.removeAttribute("data-i18n");
      heading.textContent = name;
    }
    $("code").alt = t("code_alt", name || "");
    $("fullscreen").textContent = t(document.fullscreenElement ? "fullscreen_exit" : "fullscreen");
    renderCode();
    renderOccupancy();
    if (stopped) {
      $("problem-text").textContent = stopped === "venue_inactive" ? t("stopped_inactive") :
        STOPPING.indexOf(stopped) >= 0 ? t("stopped_key") : portal.errorText(stopped);
      $("problem-link").textContent = t(stopped === "venue_inactive" ? "back" : "sign_in");
      $("problem").setAttribute("data-code", stopped);
    }
  }

  function renderCode() {
    var box = $("code-box");
    var now = Date.now();
    var state = stopped ? "stopped" : code.validUntil === 0 ? "loading" : now >= code.validUntil ? "stale" : "ready";
    box.setAttribute("data-state", state);
    if (state !== "loading") { document.body.setAttribute("data-state", state === "stopped" ? "stopped" : "running"); }
    show($("code"), state === "ready");
    show($("code-stale"), state === "stale" || state === "loading");
    var status = $("code-status");
    if (stopped) {
      status.textContent = "";
    } else if (code.lastError) {
      status.textContent = t("retrying", (code.nextAt - now) / 1000, portal.errorText(code.lastError));
    } else if (state === "ready") {
      status.textContent = t("renews_in", (code.nextAt - now) / 1000);
    } else {
      status.textContent = "";
    }
  }

  function renderOccupancy() {
    var section = $("occupancy");
    var current = occupancy.current;
    var capacity = occupancy.capacity || (venue && venue.capacity) || null;
    var known = typeof current === "number";
    var ratio = known && capacity ? current / capacity : 0;
    var level = !known ? "unknown" : ratio > 1 ? "over" : ratio >= NEAR_CAPACITY ? "near" : "ok";
    section.setAttribute("data-level", level);
    $("occupancy-current").textContent = known ? String(current) : "—";
    $("occupancy-current").setAttribute("data-current", known ? String(current) : "");
    $("occupancy-capacity").textContent = capacity ? String(capacity) : "—";
    $("occupancy-fill").style.width = Math.min(100, Math.round(ratio * 100)) + "%";
    $("occupancy-state").textContent = t("state_" + level);
    var stale = occupancy.seenAt && (occupancy.failing || Date.now() - occupancy.seenAt > OCCUPANCY_STALE_MS);
    $("occupancy-as-of").textContent = stale ? t("as_of", i18n.time(occupancy.seenAt, { hour: "2-digit", minute: "2-digit", second: "2-digit" })) : "";
  }

  // --- the screen ----------------------------------------------------------------------------------
  function keepAwake() {
    if (!navigator.wakeLock || document.visibilityState !== "visible" || (wakeLock && !wakeLock.released)) { return; }
    navigator.wakeLock.request("screen").then(function (lock) { wakeLock = lock; }, function () { /* not allowed here */ });
  }

  function toggleFullscreen() {
    var request = document.fullscreenElement ? document.exitFullscreen() : document.documentElement.requestFullscreen();
    if (request && request.catch) { request.catch(function () { /* refused: the page still works */ }); }
  }

  if (!creds) {
    i18n.apply();
    return;
  }
  $("back").href = portal.pageUrl("dashboard", creds.venue_id);
  $("fullscreen").addEventListener("click", toggleFullscreen);
  document.addEventListener("fullscreenchange", render);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState !== "visible" || stopped) { return; }
    keepAwake();
    tick();
    pollOccupancy();
  });
  i18n.apply();
  loadVenue();
  fetchCode();
  pollOccupancy();
  keepAwake();
  ticker = setInterval(tick, 1000);
})();
