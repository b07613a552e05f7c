/* The check-in page a venue's QR code opens: <public url>/c/<token> (SPEC §3.2, §3.3, §4.1).
 *
 * It shows the venue the code names (GET /v1/venue-qr/<token>) with its risk level, asks once for the
 * person's phone number or ID (remembered on the device, with household members who have no phone), and
 * records "in" or "out" with an optional short health declaration. Every scan is queued on the device
 * first (queue.js) and sent at once when there is a network; without one it stays queued and is uploaded
 * through /v1/checkins/batch when the phone is back online, with the time it was made.
 * Plain script, no build step, nothing from beyond this origin. */
(function () {
  "use strict";

  var PERSON_KEY = "antoan.person";
  var HOUSEHOLD_KEY = "antoan.household";
  var VENUES_KEY = "antoan.checkin.venues";  // token -> {venue, risk, seen_at}: what the page last saw
  var MAX_HOUSEHOLD = 10;                    // ingest takes at most 10 dependants with a check-in
  var MAX_VENUES_REMEMBERED = 30;
  var APP = "tokhaiyte";
  // Refusals that are about the code itself: the page shows them in place of the form.
  var CODE_REFUSALS = ["invalid_qr_format", "unknown_qr_key", "invalid_qr_signature", "qr_expired", "venue_not_found",
    "venue_inactive", "rotating_qr_required"];
  var VENUE_TIMEOUT_MS = 8000;
  var RISK_RETRY_MS = 5000;
  var RISK_TRIES = 6;
  var UPLOAD_RETRY_MS = 30000;

  var TEXT = {
    vi: {
      page_title: "Antoan — Khai báo vào/ra địa điểm",
      title: "Khai báo vào/ra",
      venue_kicker: "Địa điểm",
      loading: "Đang tải…",
      venue_unknown: "Chưa xem được địa điểm",
      offline_seen: function (time) { return "Đang không có mạng: thông tin địa điểm xem lúc " + time + "."; },
      offline_unknown: "Đang không có mạng nên chưa xem được địa điểm. Bạn vẫn khai báo được: lượt quét được lưu trên máy và tự gửi khi có mạng.",
      unreachable_seen: function (time) { return "Hệ thống đang bận: thông tin địa điểm xem lúc " + time + "."; },
      unreachable_unknown: "Hệ thống đang bận nên chưa xem được địa điểm. Bạn vẫn khai báo được: lượt quét được lưu trên máy và tự gửi lại.",
      rotating_until: function (time) { return "Mã trên màn hình lối vào, dùng được đến " + time + "."; },
      refusal_title: "Không dùng được mã QR này",
      error_code: "Mã lỗi",
      person_label: "Số điện thoại hoặc số CCCD/CMND/hộ chiếu",
      person_hint: "Chỉ nhập một lần: số được ghi nhớ trên điện thoại này.",
      person_known: "Khai báo cho",
      forget: "Quên số này trên máy",
      person_missing: "Hãy nhập số điện thoại hoặc số CCCD/CMND/hộ chiếu.",
      household_legend: "Người đi cùng không có điện thoại",
      household_hint: "Trẻ em, người già…: tối đa 10 người, được ghi nhớ trên máy. Bỏ chọn người không đi cùng lần này.",
      household_add_label: "Số điện thoại hoặc số giấy tờ của người đi cùng",
      household_placeholder: "Số điện thoại hoặc số giấy tờ",
      household_add: "Thêm",
      household_remove: "Xoá",
      household_remove_label: function (id) { return "Xoá " + id + " khỏi danh sách"; },
      household_empty: "Hãy nhập số của người đi cùng.",
      household_full: "Tối đa 10 người đi cùng.",
      household_duplicate: "Người này đã có trong danh sách.",
      household_self: "Đây là số của chính bạn.",
      declaration_summary: "Khai báo y tế (không bắt buộc)",
      declaration_hint: "Khi mở phần này, khai báo được gửi cùng lượt quét: không đánh dấu gì nghĩa là bạn không có dấu hiệu nào.",
      symptoms_legend: "Trong 14 ngày qua, bạn có dấu hiệu:",
      contact_legend: "Trong 14 ngày qua, bạn có tiếp xúc:",
      contact_with_case: "Với người bệnh COVID-19 (F0)",
      contact_with_suspected_case: "Với người nghi mắc COVID-19",
      in: "Vào",
      out: "Ra",
      sending: "Đang gửi…",
      done_in: "ĐÃ VÀO",
      done_out: "ĐÃ RA",
      done_people: function (n) { return "Bạn và " + n + " người đi cùng"; },
      done_sent: "Đã ghi nhận",
      done_queued: "Đã lưu trên máy, sẽ gửi khi có mạng",
      done_close: "Xong",
      queue_title: "Lượt quét trên máy",
      queue_pending: function (n) { return n + " lượt quét đang chờ gửi: tự gửi khi có mạng."; },
      queue_uploaded: function (n) { return "Đã gửi " + n + " lượt quét lưu trên máy."; },
      queue_send: "Gửi ngay",
      refused_line: function (direction, venue, time) { return direction + " · " + venue + " · " + time + " — không được ghi nhận:"; },
      dismiss: "Đã hiểu",
      dismiss_label: function (time) { return "Bỏ thông báo lượt quét lúc " + time; },
      errors: {
        invalid_qr_format: "Đây không phải mã QR địa điểm của Antoan, hoặc mã bị thiếu.",
        unknown_qr_key: "Mã QR này được ký bằng khoá không còn dùng. Hãy nhờ địa điểm in lại mã.",
        invalid_qr_signature: "Mã QR này đã bị sửa hoặc làm giả. Đừng khai báo bằng mã này; hãy báo cho nhân viên địa điểm.",
        qr_expired: "Mã trên màn hình đã hết hạn. Hãy quét lại mã đang hiện ở lối vào.",
        venue_not_found: "Không tìm thấy địa điểm của mã này (có thể địa điểm đã ngừng hoạt động).",
        venue_inactive: "Địa điểm của mã này đã ngừng hoạt động.",
        rotating_qr_required: "Địa điểm này chỉ nhận mã trên màn hình ở lối vào, không nhận mã in sẵn.",
        invalid_person_id: "Số không hợp lệ. Số điện thoại: 10 chữ số (09…), CCCD: 12 chữ số, CMND: 9 chữ số, hoặc số hộ chiếu.",
        invalid_dependant_id: "Số của một người đi cùng không hợp lệ. Hãy xoá và thêm lại cho đúng.",
        scanned_at_out_of_range: "Giờ trên điện thoại không đúng, hoặc lượt quét đã quá cũ (hơn 21 ngày).",
        client_event_id_conflict: "Lượt quét này trùng mã với một lượt khác. Hãy quét lại.",
        rate_limited: "Có quá nhiều lượt quét từ máy này. Hãy thử lại sau ít phút.",
        invalid_request: "Thông tin gửi lên không hợp lệ.",
        not_sent: "Không gửi được và không lưu được trên máy này. Hãy thử lại.",
        other: "Không ghi nhận được lượt quét."
      }
    },
    en: {
      page_title: "Antoan — Venue check-in",
      title: "Check in / out",
      venue_kicker: "Venue",
      loading: "Loading…",
      venue_unknown: "Venue not looked up yet",
      offline_seen: function (time) { return "No network: venue details as seen at " + time + "."; },
      offline_unknown: "No network, so the venue could not be looked up. You can still check in: the scan is kept on this phone and sent when it is back online.",
      unreachable_seen: function (time) { return "The service is busy: venue details as seen at " + time + "."; },
      unreachable_unknown: "The service is busy, so the venue could not be looked up. You can still check in: the scan is kept on this phone and sent again.",
      rotating_until: function (time) { return "Entrance screen code, valid until " + time + "."; },
      refusal_title: "This QR code cannot be used",
      error_code: "Error code",
      person_label: "Phone number or CCCD/CMND/passport number",
      person_hint: "Asked once: remembered on this phone.",
      person_known: "Checking in",
      forget: "Forget this number on this phone",
      person_missing: "Enter a phone number or a CCCD/CMND/passport number.",
      household_legend: "People with you who have no phone",
      household_hint: "Children, elderly relatives…: up to 10, remembered on this phone. Untick anyone not with you this time.",
      household_add_label: "Phone or document number of a person with you",
      household_placeholder: "Phone or document number",
      household_add: "Add",
      household_remove: "Remove",
      household_remove_label: function (id) { return "Remove " + id + " from the list"; },
      household_empty: "Enter the person's number.",
      household_full: "At most 10 people with you.",
      household_duplicate: "This person is already on the list.",
      household_self: "This is your own number.",
      declaration_summary: "Health declaration (optional)",
      declaration_hint: "Once this part is open, the declaration goes with the scan: nothing ticked means no signs at all.",
      symptoms_legend: "In the last 14 days, have you had:",
      contact_legend: "In the last 14 days, have you been in contact:",
      contact_with_case: "With a COVID-19 case (F0)",
      contact_with_suspected_case: "With a suspected COVID-19 case",
      in: "In",
      out: "Out",
      sending: "Sending…",
      done_in: "CHECKED IN",
      done_out: "CHECKED OUT",
      done_people: function (n) { return "You and " + n + (n === 1 ? " person" : " people") + " with you"; },
      done_sent: "Recorded",
      done_queued: "Saved on this phone, will be sent when online",
      done_close: "Done",
      queue_title: "Scans on this phone",
      queue_pending: function (n) { return n + (n === 1 ? " scan" : " scans") + " waiting to be sent: sent when online."; },
      queue_uploaded: function (n) { return n + (n === 1 ? " saved scan" : " saved scans") + " sent."; },
      queue_send: "Send now",
      refused_line: function (direction, venue, time) { return direction + " · " + venue + " · " + time + " — not recorded:"; },
      dismiss: "OK",
      dismiss_label: function (time) { return "Dismiss the scan of " + time; },
      errors: {
        invalid_qr_format: "This is not an Antoan venue QR code, or the code is incomplete.",
        unknown_qr_key: "This QR code was signed with a key no longer in use. Ask the venue to print a new one.",
        invalid_qr_signature: "This QR code has been altered or forged. Do not check in with it; please tell the venue's staff.",
        qr_expired: "The screen code has expired. Scan the code now shown at the entrance.",
        venue_not_found: "No venue was found for this code (it may have closed).",
        venue_inactive: "The venue of this code has closed.",
        rotating_qr_required: "This venue only takes the code on its entrance screen, not a printed one.",
        invalid_person_id: "Not a valid number. Phone: 10 digits (09…), CCCD: 12 digits, CMND: 9 digits, or a passport number.",
        invalid_dependant_id: "The number of a person with you is not valid. Remove it and add it again correctly.",
        scanned_at_out_of_range: "The phone's clock is wrong, or the scan is too old (over 21 days).",
        client_event_id_conflict: "This scan clashes with another one. Please scan again.",
        rate_limited: "Too many scans from this phone. Try again in a few minutes.",
        invalid_request: "What was sent is not valid.",
        not_sent: "Could not send, nor keep it on this phone. Please try again.",
        other: "The scan was not recorded."
      }
    }
  };

  // --- state ---------------------------------------------------------------------------------------
  var i18n = window.AntoanI18n.create(TEXT, render);
  var queue = window.AntoanQueue;
  var token = tokenOfPage();
  var page = {
    venue: null,        // what GET /v1/venue-qr answered (or last answered, offline)
    risk: null,         // {level, color} from the safety map
    seenAt: null,       // when `venue` was fetched, when it is a remembered copy shown offline
    offline: false,     // why the venue lookup had no answer: "network" (none), "service" (busy, down)
    refusal: null,      // the error code that refused this page's QR code
    person: stored(PERSON_KEY, ""),
    household: storedList(HOUSEHOLD_KEY),
    absent: {},         // household members unticked for this scan
    done: null,         // the confirmation shown: {entry, status}
    pending: 0,
    refused: [],
    uploaded: 0,
    sending: {},        // client_event_ids being sent by the page right now (the queue leaves them alone)
    busy: false
  };
  var retryTimer = null;
  var riskTries = 0;

  // --- small helpers -------------------------------------------------------------------------------
  function $(id) { return document.getElementById(id); }
  function t(key) { return i18n.t.apply(null, arguments); }
  function table() { return i18n.table(); }

  function tokenOfPage() {
    try { return decodeURIComponent(location.pathname.slice(3)); } catch (e) { return ""; }
  }
  function stored(key, fallback) {
    try { var value = localStorage.getItem(key); return value == null ? fallback : value; } catch (e) { return fallback; }
  }
  function store(key, value) {
    try {
      if (value == null) { localStorage.removeItem(key); } else { localStorage.setItem(key, value); }
    } catch (e) { /* private mode: remembered for this visit only */ }
  }
  function storedList(key) {
    try { var list = JSON.parse(stored(key, "[]")); return Array.isArray(list) ? list.filter(function (x) { return typeof x === "string"; }) : []; } catch (e) { return []; }
  }
  /** The same identifier however it was typed (spaces, dots, case): only to spot a repeat in the list;
   * ingest is what normalises identifiers. */
  function sameId(a, b) {
    var plain = function (s) { return s.replace(/[\s.\-()]/g, "").toUpperCase(); };
    return plain(a) === plain(b);
  }
  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") { return window.crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }
  function errorText(code) {
    var errors = table().errors;
    return errors[code] || errors.other;
  }
  function clockTime(value) { return i18n.time(value, { hour: "2-digit", minute: "2-digit" }); }
  function fullTime(value) {
    return i18n.time(value, { hour: "2-digit", minute: "2-digit" }) + " · " +
      i18n.time(value, { weekday: "long", day: "2-digit", month: "2-digit", year: "numeric" });
  }
  function show(element, visible) { element.hidden = !visible; }

  // --- what the page last saw of a venue, for when it opens offline ---------------------------------
  function rememberedVenues() {
    try { var all = JSON.parse(stored(VENUES_KEY, "{}")); return all && typeof all === "object" ? all : {}; } catch (e) { return {}; }
  }
  function rememberVenue() {
    var all = rememberedVenues();
    all[token] = { venue: page.venue, risk: page.risk, seen_at: new Date().toISOString() };
    var tokens = Object.keys(all).sort(function (a, b) { return all[a].seen_at < all[b].seen_at ? 1 : -1; });
    tokens.slice(MAX_VENUES_REMEMBERED).forEach(function (old) { delete all[old]; });
    store(VENUES_KEY, JSON.stringify(all));
  }
  function forgetVenue() {
    var all = rememberedVenues();
    if (all[token]) { delete all[token]; store(VENUES_KEY, JSON.stringify(all)); }
  }

  // --- the venue -----------------------------------------------------------------------------------
  function loadVenue() {
    if (!token || token.indexOf("/") >= 0) { refuse("invalid_qr_format"); return; }
    queue.request("GET", "/v1/venue-qr/" + encodeURIComponent(token), undefined, VENUE_TIMEOUT_MS).then(function (answer) {
      if (answer.status === 200 && answer.body && answer.body.venue_id) {
        page.venue = answer.body;
        page.offline = false;
        page.seenAt = null;
        rememberVenue();
        loadRisk();
      } else if (answer.status >= 400 && !queue.retryable(answer.status, queue.errorOf(answer.body, answer.status).code)) {
        forgetVenue();
        refuse(queue.errorOf(answer.body, answer.status).code);
        return;
      } else {
        // No answer (offline) or a passing failure: what was seen last time, if anything.
        var last = rememberedVenues()[token];
        page.offline = answer.status === 0 ? "network" : "service";
        if (last && last.venue) {
          page.venue = last.venue;
          page.risk = last.risk || null;
          page.seenAt = last.seen_at;
        }
      }
      document.body.setAttribute("data-state", "ready");
      render();
    });
  }

  function loadRisk() {
    var venueId = page.venue && page.venue.venue_id;
    if (!venueId) { return; }
    queue.request("GET", "/v1/venues/" + encodeURIComponent(venueId) + "/risk").then(function (answer) {
      if (answer.status === 200 && answer.body && typeof answer.body.level === "number") {
        page.risk = { level: answer.body.level, color: answer.body.color };
        rememberVenue();
        render();
      } else if (answer.status === 404 && ++riskTries < RISK_TRIES) {
        // A venue registered a moment ago is not on the safety map yet.
        setTimeout(loadRisk, RISK_RETRY_MS);
      }
    });
  }

  function refuse(code) {
    page.refusal = code || "other";
    document.body.setAttribute("data-state", "refused");
    render();
    $("refusal").focus();
  }

  // --- the person and their household --------------------------------------------------------------
  function forgetPerson() {
    page.person = "";
    page.household = [];
    page.absent = {};
    store(PERSON_KEY, null);
    store(HOUSEHOLD_KEY, null);
    $("person-id").value = "";
    render();
    $("person-id").focus();
  }

  function addHouseholdMember() {
    var input = $("household-id");
    var id = input.value.trim();
    var problem = !id ? "household_empty" :
      page.household.length >= MAX_HOUSEHOLD ? "household_full" :
      page.household.some(function (other) { return sameId(other, id); }) ? "household_duplicate" :
      (page.person && sameId(page.person, id)) || sameId($("person-id").value.trim(), id) ? "household_self" : null;
    fieldError(input, $("household-error"), problem && t(problem));
    if (problem) { input.focus(); return; }
    page.household.push(id);
    store(HOUSEHOLD_KEY, JSON.stringify(page.household));
    input.value = "";
    renderHousehold();
    input.focus();
  }

  function removeHouseholdMember(id) {
    page.household = page.household.filter(function (other) { return other !== id; });
    delete page.absent[id];
    store(HOUSEHOLD_KEY, page.household.length ? JSON.stringify(page.household) : null);
    renderHousehold();
    $("household-id").focus();
  }

  function fieldError(input, element, text) {
    element.textContent = text || "";
    show(element, Boolean(text));
    if (text) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
  }

  // --- scanning ------------------------------------------------------------------------------------
  function declaration() {
    if (!$("declaration").open) { return undefined; }
    return {
      symptoms: window.AntoanSymptoms.ticked($("symptoms")),
      contact_with_case: $("contact-case").checked,
      contact_with_suspected_case: $("contact-suspected").checked
    };
  }

  function scan(direction) {
    if (page.busy) { return; }
    var person = page.person || $("person-id").value.trim();
    fieldError($("person-id"), $("person-error"), person ? null : t("person_missing"));
    show($("form-error"), false);
    if (!person) { $("person-id").focus(); return; }
    if (!page.person) {
      page.person = person;
      store(PERSON_KEY, person);
      renderPerson();
    }
    var item = {
      venue_qr: token,
      person_id: person,
      direction: direction,
      scanned_at: new Date().toISOString(),
      app: APP,
      client_event_id: uuid(),
      dependants: page.household.filter(function (id) { return !page.absent[id]; })
    };
    var declared = declaration();
    if (declared) { item.declaration = declared; }
    var entry = { client_event_id: item.client_event_id, item: item, venue_name: page.venue ? page.venue.name : "", queued_at: item.scanned_at };
    setBusy(true);
    page.sending[entry.client_event_id] = true;
    queue.put(entry).then(function () { return true; }, function () { return false; }).then(function (kept) {
      var attempt = navigator.onLine === false ? Promise.resolve({ status: 0, body: null }) : queue.request("POST", "/v1/checkins", item);
      return attempt.then(function (answer) {
        var error = queue.errorOf(answer.body, answer.status);
        if (answer.status >= 200 && answer.status < 300) {
          return (kept ? queue.remove(entry.client_event_id) : Promise.resolve()).then(function () { confirm(entry, "sent"); });
        }
        if (queue.retryable(answer.status, error.code)) {
          if (!kept) { formError(t("errors").not_sent); return undefined; }
          confirm(entry, "queued");
          askForBackgroundSync();
          scheduleUpload();
          return undefined;
        }
        return (kept ? queue.remove(entry.client_event_id) : Promise.resolve()).then(function () { refused(error.code); });
      });
    }).then(function () {
      delete page.sending[entry.client_event_id];
      setBusy(false);
      refreshQueue();
    });
  }

  /** A scan refused for good: the code itself (shown in place of the form) or what was typed. */
  function refused(code) {
    if (CODE_REFUSALS.indexOf(code) >= 0) { forgetVenue(); refuse(code); return; }
    if (code === "invalid_person_id") {
      askPersonAgain();
      $("person-id").focus();
      return;
    }
    formError(errorText(code), code);
  }

  /** The remembered number was refused as no identifier at all: it is forgotten, and asked for again. */
  function askPersonAgain() {
    $("person-id").value = page.person;
    page.person = "";
    store(PERSON_KEY, null);
    renderPerson();
    fieldError($("person-id"), $("person-error"), errorText("invalid_person_id"));
  }

  function formError(text, code) {
    var element = $("form-error");
    element.textContent = text;
    element.setAttribute("data-code", code || "");
    show(element, true);
  }

  function setBusy(busy) {
    page.busy = busy;
    $("go-in").disabled = busy;
    $("go-out").disabled = busy;
    $("sending").textContent = busy ? t("sending") : "";
  }

  function confirm(entry, status) {
    page.done = { entry: entry, status: status };
    // The declaration is of this scan only.
    window.AntoanSymptoms.clear($("symptoms"));
    $("contact-case").checked = false;
    $("contact-suspected").checked = false;
    $("declaration").open = false;
    renderDone();
    document.body.setAttribute("data-state", "done");
    $("done-close").focus();
  }

  function closeDone() {
    var direction = page.done ? page.done.entry.item.direction : "in";
    page.done = null;
    renderDone();
    document.body.setAttribute("data-state", "ready");
    $(direction === "out" ? "go-out" : "go-in").focus();
  }

  // --- the queue on the device ---------------------------------------------------------------------
  function refreshQueue() {
    return Promise.all([queue.pending(), queue.refused()]).then(function (found) {
      page.pending = found[0].length;
      page.refused = found[1];
      var wrongNumber = page.refused.some(function (entry) {
        return entry.error.code === "invalid_person_id" && page.person && entry.item.person_id === page.person;
      });
      if (wrongNumber) { askPersonAgain(); }
      renderQueue();
    }, function () { /* no IndexedDB: nothing is kept, nothing to show */ });
  }

  /** Sends what is queued, when there is a network; `#queue[data-synced-at]` says when it last looked. */
  function upload() {
    clearTimeout(retryTimer);
    var attempt = navigator.onLine === false ? Promise.resolve() : queue.flush(page.sending).then(function (report) {
      page.uploaded += report.sent.length;
      if (report.kept > 0) { scheduleUpload(); }
    }, function () { /* no IndexedDB: nothing was kept to send */ });
    return attempt.then(refreshQueue).then(function () {
      $("queue").setAttribute("data-synced-at", new Date().toISOString());
    });
  }

  function scheduleUpload() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(upload, UPLOAD_RETRY_MS);
  }

  function askForBackgroundSync() {
    if (!("serviceWorker" in navigator)) { return; }
    navigator.serviceWorker.ready.then(function (registration) {
      if (registration.sync) { return registration.sync.register(queue.SYNC_TAG); }
      return undefined;
    }).catch(function () { /* the page uploads when it is next open and online */ });
  }

  // --- rendering -----------------------------------------------------------------------------------
  function render() {
    renderVenue();
    renderRefusal();
    renderPerson();
    renderHousehold();
    renderSymptoms();
    renderDone();
    renderQueue();
  }

  function renderVenue() {
    var venue = page.venue;
    var section = $("venue");
    section.setAttribute("aria-busy", String(document.body.getAttribute("data-state") === "loading"));
    show(section, !page.refusal);
    var name = $("venue-name");
    if (document.body.getAttribute("data-state") !== "loading") {
      name.removeAttribute("data-i18n");  // no longer "loading…": the venue's name, or that it is not known
      name.textContent = venue ? venue.name : t("venue_unknown");
    }
    var meta = venue ? [table().category[venue.category] || "", venue.address || ""].filter(Boolean).join(" · ") : "";
    $("venue-meta").textContent = meta;
    var badge = $("venue-risk");
    var level = page.risk && [1, 2, 3, 4].indexOf(page.risk.level) >= 0 ? page.risk.level : 0;
    badge.setAttribute("data-level", String(level));
    badge.textContent = level ? t("level_short") + " " + level + ": " + table().level[level] : t("unknown_level");
    show(badge, Boolean(venue));
    var notes = [];
    if (page.offline) {
      var prefix = page.offline === "network" ? "offline_" : "unreachable_";
      notes.push(page.seenAt ? t(prefix + "seen", fullTime(page.seenAt)) : t(prefix + "unknown"));
    }
    if (venue && venue.kind === "rotating" && venue.expires_at) {
      notes.push(t("rotating_until", i18n.time(venue.expires_at, { hour: "2-digit", minute: "2-digit", second: "2-digit" })));
    }
    $("venue-note").textContent = notes.join(" ");
    show($("venue-note"), notes.length > 0);
    show($("checkin"), document.body.getAttribute("data-state") !== "loading" && !page.refusal);
  }

  function renderRefusal() {
    show($("refusal"), Boolean(page.refusal));
    if (!page.refusal) { return; }
    $("refusal").setAttribute("data-code", page.refusal);
    $("refusal").setAttribute("tabindex", "-1");
    $("refusal-text").textContent = errorText(page.refusal);
    $("refusal-code").textContent = page.refusal;
  }

  function renderPerson() {
    show($("person-ask"), !page.person);
    show($("person-known"), Boolean(page.person));
    $("person-shown").textContent = page.person;
  }

  function renderHousehold() {
    var list = $("household-list");
    list.textContent = "";
    page.household.forEach(function (id, index) {
      var item = document.createElement("li");
      var label = document.createElement("label");
      label.className = "check";
      var box = document.createElement("input");
      box.type = "checkbox";
      box.id = "household-" + index;
      box.checked = !page.absent[id];
      box.setAttribute("data-person", id);
      box.addEventListener("change", function () {
        if (box.checked) { delete page.absent[id]; } else { page.absent[id] = true; }
      });
      var text = document.createElement("span");
      text.textContent = id;
      label.appendChild(box);
      label.appendChild(text);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "link-button";
      remove.textContent = t("household_remove");
      remove.setAttribute("aria-label", t("household_remove_label", id));
      remove.addEventListener("click", function () { removeHouseholdMember(id); });
      item.appendChild(label);
      item.appendChild(remove);
      list.appendChild(item);
    });
    var full = page.household.length >= MAX_HOUSEHOLD;
    $("household-id").disabled = full;
    $("household-add").disabled = full;
  }

  function renderSymptoms() { window.AntoanSymptoms.render($("symptoms"), i18n); }

  function renderDone() {
    var overlay = $("done");
    var done = page.done;
    show(overlay, Boolean(done));
    show($("main"), !done);
    if (!done) { overlay.setAttribute("data-status", ""); return; }
    var item = done.entry.item;
    overlay.setAttribute("data-status", done.status);
    overlay.setAttribute("data-direction", item.direction);
    $("done-direction").textContent = t(item.direction === "out" ? "done_out" : "done_in");
    $("done-venue").textContent = done.entry.venue_name || t("venue_unknown");
    $("done-time").textContent = fullTime(item.scanned_at);
    $("done-people").textContent = item.dependants.length ? t("done_people", item.dependants.length) : "";
    show($("done-people"), item.dependants.length > 0);
    $("done-status").textContent = t(done.status === "sent" ? "done_sent" : "done_queued");
  }

  function renderQueue() {
    var section = $("queue");
    section.setAttribute("data-pending", String(page.pending));
    section.setAttribute("data-refused", String(page.refused.length));
    show(section, page.pending > 0 || page.refused.length > 0 || page.uploaded > 0);
    var lines = [];
    if (page.pending) { lines.push(t("queue_pending", page.pending)); }
    if (page.uploaded) { lines.push(t("queue_uploaded", page.uploaded)); }
    $("queue-pending").textContent = lines.join(" ");
    show($("queue-send"), page.pending > 0);
    var list = $("queue-refused");
    list.textContent = "";
    page.refused.forEach(function (entry) {
      var item = document.createElement("li");
      item.setAttribute("data-code", entry.error.code);
      var line = document.createElement("p");
      line.textContent = t("refused_line", t(entry.item.direction), entry.venue_name || t("venue_unknown"), fullTime(entry.item.scanned_at));
      var reason = document.createElement("p");
      reason.className = "error";
      reason.textContent = errorText(entry.error.code) + " (" + entry.error.code + ")";
      var dismiss = document.createElement("button");
      dismiss.type = "button";
      dismiss.className = "button secondary";
      dismiss.textContent = t("dismiss");
      dismiss.setAttribute("aria-label", t("dismiss_label", fullTime(entry.item.scanned_at)));
      dismiss.addEventListener("click", function () { queue.dismiss(entry.client_event_id).then(refreshQueue, refreshQueue); });
      item.appendChild(line);
      item.appendChild(reason);
      item.appendChild(dismiss);
      list.appendChild(item);
    });
  }

  // --- wiring --------------------------------------------------------------------------------------
  $("checkin").addEventListener("submit", function (event) { event.preventDefault(); });
  $("go-in").addEventListener("click", function () { scan("in"); });
  $("go-out").addEventListener("click", function () { scan("out"); });
  $("person-forget").addEventListener("click", forgetPerson);
  $("household-add").addEventListener("click", addHouseholdMember);
  $("household-id").addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); addHouseholdMember(); }
  });
  $("person-id").addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); }  // the direction is chosen with its button, never by Enter
  });
  $("done-close").addEventListener("click", closeDone);
  document.addEventListener("keydown", function (event) { if (event.key === "Escape" && page.done) { closeDone(); } });
  $("queue-send").addEventListener("click", upload);
  window.addEventListener("online", upload);
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "visible") { upload(); } });
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/c/sw.js", { scope: "/c/" }).catch(function () { /* the page works online without it */ });
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "antoan-checkin-uploaded") { refreshQueue(); }
    });
  }

  i18n.apply();
  loadVenue();
  upload();
})();
