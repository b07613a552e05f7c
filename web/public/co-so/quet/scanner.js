/* The staff scanner at a venue's door (issue 14 item 5; SPEC §3.3): venue staff check in people without the
 * app by their personal QR code (Decision 1405 layout, read from the phone's camera with the vendored jsQR), or
 * by typing their number, authorised with the venue's API key.
 *
 * The venue is the one the portal has signed in (co-so/portal.js: this tab's venue, or a key the owner chose
 * to keep on the device), else its id and key typed here, checked and kept the portal's way. A code is sent once while
 * it stays in view: it is sent again only after it has been out of sight for REPEAT_MS (or the direction
 * changes), and each send carries its own client_event_id, so a retry is never counted twice. The screen
 * shows a person's initials and the end of their number, never the whole of either.
 * Plain script, no build step, nothing from beyond this origin. */
(function (global) {
  "use strict";

  var portal = global.AntoanPortal;
  var $ = portal.$;
  var SCAN_EVERY_MS = 150;   // a frame looked at about seven times a second: quick enough, light on a phone
  var SCAN_WIDTH = 640;      // frames are scaled down to this width before decoding
  var REPEAT_MS = 5000;      // a code out of sight this long may be sent again
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
      idle: "Sẵn sàng: bật camera và quét mã, hoặc nhập số bên dưới.",
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
      // What the portal's refusals (co-so/portal.js) do not say: a scan's own.
      scan_errors: {
        network: "Không kết nối được máy chủ. Hãy kiểm tra mạng rồi quét lại.",
        invalid_person_qr: "Đây không phải mã QR cá nhân (Quyết định 1405), hoặc mã thiếu số giấy tờ.",
        invalid_person_id: "Số không hợp lệ. Số điện thoại: 10 chữ số (09…), CCCD: 12 chữ số, CMND: 9 chữ số, hoặc số hộ chiếu.",
        invalid_venue_id: "Mã cơ sở có dạng v_ và 16 ký tự (0–9, a–f).",
        scanned_at_out_of_range: "Giờ trên máy này sai lệch quá nhiều. Hãy chỉnh lại đồng hồ của máy.",
        client_event_id_conflict: "Lượt quét này trùng mã với một lượt khác. Hãy quét lại.",
        request_in_progress: "Lượt quét đang được ghi nhận. Chờ một chút rồi xem lại.",
        broker_unavailable: "Hệ thống tạm thời không ghi nhận được. Hãy quét lại sau ít giây.",
        invalid_request: "Thông tin gửi lên không hợp lệ."
      }
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
      idle: "Ready: turn the camera on and scan, or type a number below.",
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
      scan_errors: {
        network: "The server could not be reached. Check the network and scan again.",
        invalid_person_qr: "This is not a personal QR code (Decision 1405), or it has no document number.",
        invalid_person_id: "Not a valid number. Phone: 10 digits (09…), CCCD: 12 digits, CMND: 9 digits, or a passport number.",
        invalid_venue_id: "A venue ID is v_ followed by 16 characters (0–9, a–f).",
        scanned_at_out_of_range: "This device's clock is far off. Set its clock right.",
        client_event_id_conflict: "This scan's id was used for another one. Scan again.",
        request_in_progress: "This scan is being recorded. Wait a moment and look again.",
        broker_unavailable: "The system cannot record right now. Scan again in a few seconds.",
        invalid_request: "What was sent is not valid."
      }
    }
  };
  var doc = global.document;
  var venue = null;        // {venue_id, api_key, name}
  var lastResult = null;   // what #result shows, redrawn on a language switch
  var recent = [];         // the latest scans, newest first
  var seen = {};           // code + direction -> when it was last in view (ms)
  var camera = { stream: null, timer: null, canvas: doc.createElement("canvas") };
  var i18n = portal.start(TEXT, function () { renderCamera(); renderResult(); renderRecent(); });
  var t = i18n.t;

  function errorText(code) { return i18n.table().scan_errors[code] || portal.errorText(code); }

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

  /** The key is checked the portal's way (nothing is written); the venue's name comes from its public record. */
  function signIn(entry, keep) {
    return portal.checkKey(entry.venue_id, entry.api_key).then(function (code) {
      if (code) { return code; }
      return portal.api("GET", portal.venuePath(entry.venue_id)).then(function (record) {
        var name = record.ok && record.body ? record.body.name : entry.name || "";
        venue = portal.signIn({ venue_id: entry.venue_id, api_key: entry.api_key, name: name }, keep);
        portal.rename(venue.venue_id, name);
        portal.renderNav("scanner", venue);
        showDesk();
        return null;
      });
    });
  }

  $("signin").addEventListener("submit", function (event) {
    event.preventDefault();
    var entry = { venue_id: $("venue-id").value.trim(), api_key: $("venue-key").value.trim(), name: "" };
    if (!portal.VENUE_ID.test(entry.venue_id)) { showSignIn("invalid_venue_id"); $("venue-id").focus(); return; }
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
    portal.signOut();
    venue = null;
    $("portal-nav").hidden = true;
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
    return portal.api("POST", "/v1/checkins", { key: venue.api_key, body: item }).then(function (answer) {
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
    if (!entry) {
      $("result-direction").textContent = "";
      $("result-person").textContent = "";
      $("result-text").textContent = t("idle");
      return;
    }
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
  var stored = portal.credentials();
  if (!stored) {
    showSignIn(null);
  } else {
    signIn(stored, false).then(function (code) {
      if (code) { $("venue-id").value = stored.venue_id; showSignIn(code); }
    });
  }
})(self);
