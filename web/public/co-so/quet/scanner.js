/* The staff scanner at a venue's door (issue 14 item 5; SPEC §3.3): venue staff check in people without the
 * app by their personal QR code (Decision 1405 layout, read from the phone's camera with the vendored jsQR), or
 * by typing their number, authorised with the venue's API key.
 *
 * The venue is the one the portal pages have signed in (the same storage: this tab's sessionStorage entry, or
 * a key the owner chose to keep in localStorage), else its id and key typed here. A code is sent once while
 * it stays in view: it is sent again only after it has been out of sight for REPEAT_MS (or the direction
 * changes), and each send carries its own client_event_id, so a retry is never counted twice. The screen
 * shows a person's initials and the end of their number, never the whole of either.
 * Plain script, no build step, nothing from beyond this origin. */
(function (global) {
  "use strict";

  var SESSION_KEY = "antoan.venue.session";  // the portal's (co-so/portal.js): {venue_id, api_key, name}
  var KEPT_KEY = "antoan.venue.keys";        // the portal's, opt-in: venue_id -> {api_key, name}
  var VENUE_ID = /^v_[0-9a-f]{16}$/;
  var SCAN_EVERY_MS = 150;   // a frame looked at about seven times a second: quick enough, light on a phone
  var SCAN_WIDTH = 640;      // frames are scaled down to this width before decoding
  var REPEAT_MS = 5000;      // a code out of sight this long may be sent again
  var TIMEOUT_MS = 15000;
  var RECENT = 8;

  var TEXT = {
    vi: {
      page_title: "Antoan — Quét mã QR cá nhân",
      title: "Quét mã QR cá nhân",
      signin_title: "Cơ sở nào đang quét?",
      signin_hint: "Nhập mã cơ sở và khoá của cơ sở (nhận khi đăng ký cơ sở).",
      venue_id_label: "Mã cơ sở",
      venue_key_label: "Khoá của cơ sở",
      venue_keep: "Ghi nhớ khoá trên máy này",
      signin_go: "Bắt đầu quét",
      checking: "Đang kiểm tra…",
      venue_label: "Cơ sở",
      switch_venue: "Đổi cơ sở",
      direction_legend: "Khách đang",
      in: "Vào",
      out: "Ra",
      camera_title: "Camera",
      camera_off: "Camera đang tắt.",
      camera_starting: "Đang bật camera…",
      camera_on: "Đưa mã QR cá nhân của khách vào khung.",
      camera_start: "Bật camera",
      camera_stop: "Tắt camera",
      camera_denied: "Trình duyệt không cho dùng camera. Hãy cho phép camera trong cài đặt của trình duyệt, hoặc nhập số giấy tờ bên dưới.",
      camera_missing: "Không tìm thấy camera trên máy này. Hãy nhập số giấy tờ bên dưới.",
      camera_unavailable: "Không bật được camera. Hãy thử lại hoặc nhập số giấy tờ bên dưới.",
      done_in: "ĐÃ VÀO",
      done_out: "ĐÃ RA",
      sending_in: "Đang ghi nhận vào…",
      sending_out: "Đang ghi nhận ra…",
      not_recorded: "CHƯA GHI NHẬN",
      recorded_at: function (time) { return "Đã ghi nhận lúc " + time; },
      person_qr: function (initials, tail) { return initials + " · số …" + tail; },
      person_id: function (tail) { return "Số …" + tail; },
      manual_summary: "Không quét được? Nhập số giấy tờ",
      manual_label: "Số điện thoại hoặc số CCCD/CMND/hộ chiếu của khách",
      manual_go: "Ghi nhận",
      manual_required: "Hãy nhập số của khách.",
      recent_title: "Lượt quét gần đây trên máy này",
      recent_empty: "Chưa có lượt nào.",
      recent_ok: "đã ghi nhận",
      recent_failed: "chưa ghi nhận",
      errors: {
        network: "Không kết nối được máy chủ. Hãy kiểm tra mạng rồi quét lại.",
        invalid_person_qr: "Đây không phải mã QR cá nhân (Quyết định 1405), hoặc mã thiếu số giấy tờ.",
        invalid_person_id: "Số không hợp lệ. Số điện thoại: 10 chữ số (09…), CCCD: 12 chữ số, CMND: 9 chữ số, hoặc số hộ chiếu.",
        venue_key_required: "Cần khoá của cơ sở.",
        invalid_venue_key: "Khoá không đúng với cơ sở này. Hãy kiểm tra lại mã cơ sở và khoá.",
        venue_not_found: "Không tìm thấy cơ sở có mã này.",
        venue_inactive: "Cơ sở này đã ngừng hoạt động.",
        invalid_venue_id: "Mã cơ sở có dạng v_ và 16 ký tự (0–9, a–f).",
        scanned_at_out_of_range: "Giờ trên máy này sai lệch quá nhiều. Hãy chỉnh lại đồng hồ của máy.",
        client_event_id_conflict: "Lượt quét này trùng mã với một lượt khác. Hãy quét lại.",
        request_in_progress: "Lượt quét đang được ghi nhận. Chờ một chút rồi xem lại.",
        rate_limited: "Có quá nhiều yêu cầu từ máy này. Hãy thử lại sau ít phút.",
        broker_unavailable: "Hệ thống tạm thời không ghi nhận được. Hãy quét lại sau ít giây.",
        venues_loading: "Hệ thống đang khởi động. Hãy thử lại sau ít giây.",
        service_unavailable: "Dịch vụ tạm thời không trả lời. Hãy thử lại sau ít phút.",
        service_timeout: "Dịch vụ trả lời quá chậm. Hãy thử lại sau ít phút.",
        invalid_request: "Thông tin gửi lên không hợp lệ.",
        other: "Có lỗi xảy ra."
      },
      error_code: "Mã lỗi"
    },
    en: {
      page_title: "Antoan — Scan personal QR codes",
      title: "Scan personal QR codes",
      signin_title: "Which venue is scanning?",
      signin_hint: "Type the venue ID and the venue's key (given when the venue was registered).",
      venue_id_label: "Venue ID",
      venue_key_label: "Venue key",
      venue_keep: "Remember the key on this device",
      signin_go: "Start scanning",
      checking: "Checking…",
      venue_label: "Venue",
      switch_venue: "Change venue",
      direction_legend: "The visitor is",
      in: "In",
      out: "Out",
      camera_title: "Camera",
      camera_off: "The camera is off.",
      camera_starting: "Turning the camera on…",
      camera_on: "Hold the visitor's personal QR code in the frame.",
      camera_start: "Turn camera on",
      camera_stop: "Turn camera off",
      camera_denied: "The browser does not allow the camera. Allow it in the browser's settings, or type the number below.",
      camera_missing: "No camera was found on this device. Type the number below.",
      camera_unavailable: "The camera could not be turned on. Try again, or type the number below.",
      done_in: "CHECKED IN",
      done_out: "CHECKED OUT",
      sending_in: "Checking in…",
      sending_out: "Checking out…",
      not_recorded: "NOT RECORDED",
      recorded_at: function (time) { return "Recorded at " + time; },
      person_qr: function (initials, tail) { return initials + " · number …" + tail; },
      person_id: function (tail) { return "Number …" + tail; },
      manual_summary: "Cannot scan? Type the number",
      manual_label: "The visitor's phone number or CCCD/CMND/passport number",
      manual_go: "Record",
      manual_required: "Type the visitor's number.",
      recent_title: "Recent scans on this device",
      recent_empty: "None yet.",
      recent_ok: "recorded",
      recent_failed: "not recorded",
      errors: {
        network: "The server could not be reached. Check the network and scan again.",
        invalid_person_qr: "This is not a personal QR code (Decision 1405), or it has no document number.",
        invalid_person_id: "Not a valid number. Phone: 10 digits (09…), CCCD: 12 digits, CMND: 9 digits, or a passport number.",
        venue_key_required: "The venue's key is needed.",
        invalid_venue_key: "The key does not belong to this venue. Check the venue ID and the key.",
        venue_not_found: "No venue has this ID.",
        venue_inactive: "This venue has closed.",
        invalid_venue_id: "A venue ID is v_ followed by 16 characters (0–9, a–f).",
        scanned_at_out_of_range: "This device's clock is far off. Set its clock right.",
        client_event_id_conflict: "This scan's id was used for another one. Scan again.",
        request_in_progress: "This scan is being recorded. Wait a moment and look again.",
        rate_limited: "Too many requests from this device. Try again in a few minutes.",
        broker_unavailable: "The system cannot record right now. Scan again in a few seconds.",
        venues_loading: "The system is starting. Try again in a few seconds.",
        service_unavailable: "The service is not answering for now. Try again in a few minutes.",
        service_timeout: "The service took too long to answer. Try again in a few minutes.",
        invalid_request: "What was sent is not valid.",
        other: "Something went wrong."
      },
      error_code: "Error code"
    }
  };
  var BY_STATUS = { 401: "venue_key_required", 403: "invalid_venue_key", 404: "venue_not_found", 409: "venue_inactive",
    422: "invalid_request", 429: "rate_limited", 502: "service_unavailable", 503: "service_unavailable", 504: "service_timeout" };

  var doc = global.document;
  function $(id) { return doc.getElementById(id); }
  var venue = null;        // {venue_id, api_key, name}
  var lastResult = null;   // what #result shows, redrawn on a language switch
  var recent = [];         // the latest scans, newest first
  var seen = {};           // code + direction -> when it was last in view (ms)
  var camera = { stream: null, timer: null, canvas: doc.createElement("canvas") };
  var i18n = global.AntoanI18n.create(TEXT, function () { renderCamera(); renderResult(); renderRecent(); });
  var t = i18n.t;

  // --- the venue's key: the portal's storage ---------------------------------------------------------
  function read(storage, key) {
    try { var value = JSON.parse(global[storage].getItem(key) || "null"); return value && typeof value === "object" ? value : null; } catch (e) { return null; }
  }
  function write(storage, key, value) {
    try {
      if (value == null) { global[storage].removeItem(key); } else { global[storage].setItem(key, JSON.stringify(value)); }
    } catch (e) { /* storage refused (private mode): this page only */ }
  }

  /** The venue the address names (`?venue=`), else this tab's, else the only one whose key is kept. */
  function storedVenue() {
    var wanted = new URLSearchParams(global.location.search).get("venue");
    var current = read("sessionStorage", SESSION_KEY);
    if (current && typeof current.api_key === "string" && typeof current.venue_id === "string" && (!wanted || current.venue_id === wanted)) {
      return current;
    }
    var kept = read("localStorage", KEPT_KEY) || {};
    var ids = Object.keys(kept).filter(function (id) { return kept[id] && typeof kept[id].api_key === "string"; });
    var id = wanted && ids.indexOf(wanted) >= 0 ? wanted : !wanted && ids.length === 1 ? ids[0] : null;
    return id ? { venue_id: id, api_key: kept[id].api_key, name: kept[id].name || "" } : null;
  }

  function remember(entry, keep) {
    write("sessionStorage", SESSION_KEY, entry);
    if (keep) {
      var kept = read("localStorage", KEPT_KEY) || {};
      kept[entry.venue_id] = { api_key: entry.api_key, name: entry.name };
      write("localStorage", KEPT_KEY, kept);
    }
  }

  // --- the API ---------------------------------------------------------------------------------------
  /** Resolves with {ok, status, body, code}; `code` is the refusal's, or "network" when nothing answered. */
  function api(method, path, key, body) {
    var headers = { Accept: "application/json" };
    if (key) { headers.Authorization = "Bearer " + key; }
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    return global.fetch(path, {
      method: method, headers: headers, cache: "no-store", credentials: "omit", signal: controller.signal,
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
        var code = parsed && parsed.error && typeof parsed.error.code === "string" ? parsed.error.code : null;
        return { ok: response.ok, status: response.status, body: parsed,
          code: response.ok ? null : code || BY_STATUS[response.status] || (response.status >= 500 ? "service_unavailable" : "other") };
      });
    }, function () {
      return { ok: false, status: 0, body: null, code: "network" };
    }).then(function (answer) { clearTimeout(timer); return answer; });
  }

  function errorText(code) {
    var errors = i18n.table().errors;
    return errors[code] || errors.other + " (" + t("error_code") + ": " + code + ")";
  }

  // --- signing in --------------------------------------------------------------------------------------
  function showSignIn(code) {
    doc.body.setAttribute("data-state", "signin");
    $("desk").hidden = true;
    $("signin").hidden = false;
    $("signin-error").hidden = !code;
    $("signin-error").setAttribute("data-code", code || "");
    $("signin-error").textContent = code ? errorText(code) : "";
  }

  function showDesk() {
    doc.body.setAttribute("data-state", "ready");
    $("signin").hidden = true;
    $("desk").hidden = false;
    $("venue-name").textContent = venue.name || venue.venue_id;
  }

  /** The key is checked by asking for the venue's screen code (nothing is written), as the portal does; the
   * venue's name comes from its public record. */
  function signIn(entry, keep) {
    return api("GET", "/v1/venues/" + encodeURIComponent(entry.venue_id) + "/qr/rotating", entry.api_key).then(function (answer) {
      if (!answer.ok && answer.code !== "venue_inactive") { return answer.code; }
      return api("GET", "/v1/venues/" + encodeURIComponent(entry.venue_id)).then(function (record) {
        venue = { venue_id: entry.venue_id, api_key: entry.api_key, name: record.ok && record.body ? record.body.name : entry.name || "" };
        remember(venue, keep);
        showDesk();
        return null;
      });
    });
  }

  $("signin").addEventListener("submit", function (event) {
    event.preventDefault();
    var entry = { venue_id: $("venue-id").value.trim(), api_key: $("venue-key").value.trim(), name: "" };
    if (!VENUE_ID.test(entry.venue_id)) { showSignIn("invalid_venue_id"); $("venue-id").focus(); return; }
    if (!entry.api_key) { showSignIn("venue_key_required"); $("venue-key").focus(); return; }
    var button = $("signin-go");
    button.disabled = true;
    button.textContent = t("checking");
    signIn(entry, $("venue-keep").checked).then(function (code) {
      button.disabled = false;
      button.textContent = t("signin_go");
      if (code) { showSignIn(code); } else { $("camera-toggle").focus(); }
    });
  });

  $("switch-venue").addEventListener("click", function () {
    stopCamera();
    write("sessionStorage", SESSION_KEY, null);
    venue = null;
    $("venue-id").value = "";
    $("venue-key").value = "";
    showSignIn(null);
    $("venue-id").focus();
  });

  // --- check-ins ---------------------------------------------------------------------------------------
  function direction() { return doc.querySelector('input[name="direction"]:checked').value; }

  function uuid() {
    if (global.crypto && global.crypto.randomUUID) { return global.crypto.randomUUID(); }
    var bytes = global.crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  /** "Nguyễn Văn An" -> "N. V. A." */
  function initials(name) {
    return name.split(/\s+/).filter(Boolean).map(function (word) { return word.charAt(0).toUpperCase() + "."; }).join(" ");
  }

  /** What the screen may say of a person: from a personal QR its name's initials and its number's last three
   * characters; from a typed number its last three. */
  function who(item) {
    if (item.person_id) { return { kind: "id", tail: item.person_id.replace(/\s/g, "").slice(-3) }; }
    var fields = item.person_qr.split("|");
    return { kind: "qr", initials: initials(fields[1] || "") || "—", tail: (fields[0] || "").trim().slice(-3) };
  }

  function personText(person) {
    return person.kind === "id" ? t("person_id", person.tail) : t("person_qr", person.initials, person.tail);
  }

  function send(person) {
    var item = Object.assign(person, {
      direction: direction(), scanned_at: new Date().toISOString(), app: "staff", client_event_id: uuid()
    });
    var entry = { who: who(item), direction: item.direction, at: item.scanned_at, status: "sending", code: null };
    recent.unshift(entry);
    recent.length = Math.min(recent.length, RECENT);
    lastResult = entry;
    renderResult();
    return api("POST", "/v1/checkins", venue.api_key, item).then(function (answer) {
      entry.status = answer.ok ? "sent" : "error";
      entry.code = answer.code;
      if (answer.ok && global.navigator.vibrate) { global.navigator.vibrate(80); }
      renderResult();
      renderRecent();
      if (answer.code === "invalid_venue_key" || answer.code === "venue_key_required") { stopCamera(); }
      return answer;
    });
  }

  function renderResult() {
    var box = $("result");
    var entry = lastResult;
    box.setAttribute("data-status", entry ? entry.status : "");
    box.setAttribute("data-code", entry && entry.code ? entry.code : "");
    box.setAttribute("data-direction", entry ? entry.direction : "");
    if (!entry) { ["result-direction", "result-person", "result-text"].forEach(function (id) { $(id).textContent = ""; }); return; }
    $("result-direction").textContent = entry.status === "sent" ? t("done_" + entry.direction)
      : entry.status === "sending" ? t("sending_" + entry.direction) : t("not_recorded");
    $("result-person").textContent = personText(entry.who);
    $("result-text").textContent = entry.status === "sent" ? t("recorded_at", i18n.time(entry.at, { timeStyle: "short" }))
      : entry.status === "error" ? errorText(entry.code) : "";
  }

  function renderRecent() {
    var list = $("recent");
    list.textContent = "";
    recent.filter(function (entry) { return entry.status !== "sending"; }).forEach(function (entry) {
      var item = doc.createElement("li");
      item.setAttribute("data-status", entry.status);
      item.textContent = i18n.time(entry.at, { timeStyle: "short" }) + " · " + t(entry.direction) + " · " + personText(entry.who) +
        " · " + (entry.status === "sent" ? t("recent_ok") : t("recent_failed"));
      list.appendChild(item);
    });
    $("recent-empty").hidden = list.children.length > 0;
  }

  $("manual-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = $("manual-id");
    var value = input.value.trim();
    if (!value) {
      lastResult = null;
      renderResult();
      input.setAttribute("aria-invalid", "true");
      $("result-text").textContent = t("manual_required");
      input.focus();
      return;
    }
    input.setAttribute("aria-invalid", "false");
    send({ person_id: value }).then(function (answer) {
      if (answer.ok) { input.value = ""; } else if (answer.code === "invalid_person_id") { input.setAttribute("aria-invalid", "true"); }
    });
  });

  // --- the camera --------------------------------------------------------------------------------------
  /** A decoded code: sent unless it was in view a moment ago (with the same direction). */
  function decoded(text) {
    var now = Date.now();
    var key = direction() + "\n" + text;
    var last = seen[key];
    seen[key] = now;
    Object.keys(seen).forEach(function (other) { if (now - seen[other] > REPEAT_MS) { delete seen[other]; } });
    if (last !== undefined && now - last <= REPEAT_MS) { return; }
    send({ person_qr: text });
  }

  function scanFrame() {
    var video = $("video");
    if (camera.stream && video.readyState >= 2 && video.videoWidth > 0) {
      var scale = Math.min(1, SCAN_WIDTH / video.videoWidth);
      var width = Math.round(video.videoWidth * scale);
      var height = Math.round(video.videoHeight * scale);
      var canvas = camera.canvas;
      if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
      var context = canvas.getContext("2d", { willReadFrequently: true });
      context.drawImage(video, 0, 0, width, height);
      var code = global.jsQR(context.getImageData(0, 0, width, height).data, width, height, { inversionAttempts: "dontInvert" });
      if (code && code.data) { decoded(code.data); }
    }
    if (camera.stream) { camera.timer = setTimeout(scanFrame, SCAN_EVERY_MS); }
  }

  function renderCamera(stateKey) {
    var state = $("camera-state");
    if (stateKey) { state.setAttribute("data-i18n", stateKey); }
    state.textContent = t(state.getAttribute("data-i18n"));
    var toggle = $("camera-toggle");
    var on = camera.stream !== null;
    toggle.setAttribute("data-i18n", on ? "camera_stop" : "camera_start");
    toggle.textContent = t(on ? "camera_stop" : "camera_start");
    toggle.classList.toggle("secondary", on);
    doc.querySelector(".viewfinder").classList.toggle("live", on);
  }

  function startCamera() {
    var media = global.navigator.mediaDevices;
    if (!media || !media.getUserMedia) { renderCamera("camera_unavailable"); return; }
    renderCamera("camera_starting");
    media.getUserMedia({ audio: false, video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } } })
      .then(function (stream) {
        camera.stream = stream;
        var video = $("video");
        video.srcObject = stream;
        return video.play().then(function () {
          renderCamera("camera_on");
          scanFrame();
        });
      })
      .catch(function (error) {
        stopCamera();
        var name = error && error.name;
        renderCamera(name === "NotAllowedError" || name === "SecurityError" ? "camera_denied"
          : name === "NotFoundError" || name === "OverconstrainedError" ? "camera_missing" : "camera_unavailable");
      });
  }

  function stopCamera() {
    if (camera.stream) { camera.stream.getTracks().forEach(function (track) { track.stop(); }); }
    camera.stream = null;
    clearTimeout(camera.timer);
    $("video").srcObject = null;
    renderCamera("camera_off");
  }

  $("camera-toggle").addEventListener("click", function () { if (camera.stream) { stopCamera(); } else { startCamera(); } });
  // A phone put in a pocket or a tab left behind does not keep its camera on.
  doc.addEventListener("visibilitychange", function () { if (doc.hidden && camera.stream) { stopCamera(); } });

  // --- start -------------------------------------------------------------------------------------------
  i18n.apply();
  var stored = storedVenue();
  if (!stored) {
    showSignIn(null);
  } else {
    signIn(stored, false).then(function (code) {
      if (code) { $("venue-id").value = stored.venue_id; showSignIn(code); }
    });
  }
})(self);
