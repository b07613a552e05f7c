/* The venue portal's front page: signing in with the venue's id and key, then the venue's overview: its
 * risk level and occupancy, links to the entrance screen, the visitor history and the self-assessment, the
 * poster, its details to edit (PATCH /v1/venues/{id}), the key kept on this device or not, and
 * deactivation after a confirmation (DELETE /v1/venues/{id}). */
(function () {
  "use strict";

  var portal = window.AntoanPortal;
  var $ = portal.$;
  var show = portal.show;
  var NEXT_PAGES = ["kiosk", "history", "assessment"];
  var KEY_IN_TEXT = /vk_[A-Za-z0-9_-]{16,}/;
  var ID_IN_TEXT = /v_[0-9a-f]{16}(?![0-9a-f])/;

  var TEXT = {
    vi: {
      page_title: "Antoan — Cổng cơ sở",
      title: "Cổng cơ sở",
      signin_title: "Đăng nhập cơ sở",
      signin_hint: "Dùng mã cơ sở và khoá nhận được khi đăng ký.",
      venue_id_hint: "Bắt đầu bằng v_, ví dụ v_3f2a9c1b7d4e5a60.",
      key_label: "Khoá của cơ sở",
      keep_hint: "Chỉ chọn trên thiết bị riêng của cơ sở (ví dụ máy ở lối vào).",
      signing_in: "Đang kiểm tra…",
      missing_id: "Hãy nhập mã cơ sở.",
      bad_id: "Mã cơ sở có dạng v_ và 16 chữ số hoặc chữ cái a–f.",
      missing_key: "Hãy nhập khoá của cơ sở.",
      kept_title: "Cơ sở có khoá ghi nhớ trên thiết bị này",
      open: "Mở",
      open_label: function (name) { return "Mở trang của " + name; },
      forget: "Quên khoá",
      forget_label: function (name) { return "Quên khoá của " + name + " trên thiết bị này"; },
      new_title: "Chưa đăng ký?",
      new_hint: "Đăng ký cơ sở để có áp phích mã QR, màn hình lối vào với mã thay đổi liên tục, lịch sử khách và tự đánh giá an toàn.",
      new_link: "Đăng ký cơ sở mới",
      venue_kicker: "Cơ sở",
      inactive: "Cơ sở đã ngừng hoạt động: mã QR không còn dùng được.",
      occupancy: function (current, capacity) { return "Đang có mặt: " + current + " / " + capacity + " người"; },
      occupancy_unknown: "Chưa có số người đang có mặt.",
      tile_kiosk: "Mã QR thay đổi vài phút một lần và số người đang có mặt, cho màn hình ở cửa.",
      tile_history: "Lượt vào, ra theo ngày; tải về tệp CSV.",
      tile_assessment: "Bảng tiêu chí an toàn COVID, điểm và cấp độ nguy cơ.",
      edit_title: "Sửa thông tin",
      address_label: "Địa chỉ",
      rotating_hint: "Khi chọn, mã trên áp phích in sẵn không còn nhận: khách quét mã trên màn hình ở lối vào.",
      save: "Lưu thay đổi",
      saving: "Đang lưu…",
      saved: "Đã lưu.",
      nothing_changed: "Không có gì thay đổi.",
      device_title: "Khoá trên thiết bị này",
      device_hint: "Khi ghi nhớ, thiết bị này mở được trang của cơ sở (ví dụ màn hình lối vào sau khi khởi động lại) mà không cần nhập khoá. Bỏ chọn để quên khoá; đăng xuất chỉ đóng phiên trên thẻ này.",
      device_kept: "Khoá đang được ghi nhớ trên thiết bị này.",
      device_forgotten: "Khoá không được lưu trên thiết bị này.",
      deactivate_title: "Ngừng hoạt động",
      deactivate_hint: "Khi cơ sở đóng cửa hẳn: mã QR trên áp phích và trên màn hình không còn dùng được. Lịch sử khách vẫn xem được. Không thể hoàn tác.",
      deactivate: "Ngừng hoạt động cơ sở",
      confirm_title: "Ngừng hoạt động cơ sở này?",
      confirm_text: function (name) { return "“" + name + "” sẽ không nhận khai báo nữa: mã QR trên áp phích và trên màn hình hết hiệu lực. Không thể hoàn tác."; },
      cancel: "Huỷ",
      confirm_yes: "Ngừng hoạt động"
    },
    en: {
      page_title: "Antoan — Venue portal",
      title: "Venue portal",
      signin_title: "Sign in as a venue",
      signin_hint: "Use the venue ID and the key you got when registering.",
      venue_id_hint: "Starts with v_, for example v_3f2a9c1b7d4e5a60.",
      key_label: "The venue's key",
      keep_hint: "Only on the venue's own device (such as the entrance screen's).",
      signing_in: "Checking…",
      missing_id: "Enter the venue ID.",
      bad_id: "A venue ID is v_ followed by 16 digits or letters a–f.",
      missing_key: "Enter the venue's key.",
      kept_title: "Venues whose key this device keeps",
      open: "Open",
      open_label: function (name) { return "Open the pages of " + name; },
      forget: "Forget the key",
      forget_label: function (name) { return "Forget the key of " + name + " on this device"; },
      new_title: "Not registered yet?",
      new_hint: "Register the venue to get its QR poster, an entrance screen whose code keeps changing, the visitor history and the safety self-assessment.",
      new_link: "Register a new venue",
      venue_kicker: "Venue",
      inactive: "The venue has been deactivated: its QR codes no longer work.",
      occupancy: function (current, capacity) { return "Present now: " + current + " / " + capacity + " people"; },
      occupancy_unknown: "No occupancy figure yet.",
      tile_kiosk: "A QR code that changes every few minutes and how many people are in, for a screen at the door.",
      tile_history: "Visits in and out by day; download as a CSV file.",
      tile_assessment: "The COVID safety checklist, its score and the risk level.",
      edit_title: "Edit details",
      address_label: "Address",
      rotating_hint: "When ticked, the printed poster's code is no longer taken: visitors scan the code on the entrance screen.",
      save: "Save changes",
      saving: "Saving…",
      saved: "Saved.",
      nothing_changed: "Nothing was changed.",
      device_title: "The key on this device",
      device_hint: "When kept, this device opens the venue's pages (the entrance screen after a restart, say) without typing the key. Untick to forget the key; signing out only ends this tab's session.",
      device_kept: "This device keeps the key.",
      device_forgotten: "This device does not keep the key.",
      deactivate_title: "Deactivate",
      deactivate_hint: "When the venue closes for good: the QR codes on the poster and on the screen stop working. The visitor history can still be read. This cannot be undone.",
      deactivate: "Deactivate the venue",
      confirm_title: "Deactivate this venue?",
      confirm_text: function (name) { return "“" + name + "” will take no more check-ins: the QR codes on its poster and screen stop working. This cannot be undone."; },
      cancel: "Cancel",
      confirm_yes: "Deactivate"
    }
  };

  var i18n = portal.start(TEXT, render);
  var t = i18n.t;
  var creds = null;
  var venue = null;   // GET /v1/venues/{id}
  var risk = null;
  var occupancy = null;
  var areaNames = "";  // the venue's ward, district and province

  // --- signing in ----------------------------------------------------------------------------------
  function showSignIn(errorCode) {
    document.body.setAttribute("data-state", "signed-out");
    show($("signin-view"), true);
    show($("dashboard-view"), false);
    show($("portal-nav"), false);
    var wanted = portal.requestedVenue();
    if (wanted && !$("signin-venue").value) { $("signin-venue").value = wanted; }
    signInError(errorCode);
    renderKept();
  }

  /** What refused the sign-in: a refusal's code, or a problem with what was typed (a key of TEXT). */
  var signInProblem = null;

  function signInError(problem) {
    signInProblem = problem || null;
    renderSignInError();
  }

  function renderSignInError() {
    var problem = signInProblem;
    var text = !problem ? "" : Object.prototype.hasOwnProperty.call(i18n.table(), problem) ? t(problem) : portal.errorText(problem);
    $("signin-error").textContent = text;
    $("signin-error").setAttribute("data-code", problem || "");
    show($("signin-error"), Boolean(problem));
  }

  function renderKept() {
    var all = portal.kept();
    var ids = Object.keys(all);
    var list = $("kept-list");
    list.textContent = "";
    ids.forEach(function (id) {
      var name = all[id].name || id;
      var item = document.createElement("li");
      item.setAttribute("data-venue-id", id);
      var label = document.createElement("span");
      label.className = "kept-name";
      label.textContent = name;
      var code = document.createElement("code");
      code.textContent = id;
      label.appendChild(document.createTextNode(" "));
      label.appendChild(code);
      var open = document.createElement("button");
      open.type = "button";
      open.className = "button secondary small";
      open.textContent = t("open");
      open.setAttribute("aria-label", t("open_label", name));
      open.addEventListener("click", function () {
        enter({ venue_id: id, api_key: all[id].api_key, name: all[id].name }, true);
      });
      var forget = document.createElement("button");
      forget.type = "button";
      forget.className = "link-button";
      forget.textContent = t("forget");
      forget.setAttribute("aria-label", t("forget_label", name));
      forget.addEventListener("click", function () { portal.forget(id); renderKept(); });
      item.appendChild(label);
      item.appendChild(open);
      item.appendChild(forget);
      list.appendChild(item);
    });
    show($("kept"), ids.length > 0);
  }

  function signIn(event) {
    event.preventDefault();
    var idText = $("signin-venue").value.trim();
    var keyText = $("signin-key").value.trim();
    // A pasted note with both the id and the key is taken apart.
    var idFound = ID_IN_TEXT.exec(idText) || ID_IN_TEXT.exec(keyText);
    var keyFound = KEY_IN_TEXT.exec(keyText) || KEY_IN_TEXT.exec(idText);
    var venueId = idFound ? idFound[0] : idText;
    var key = keyFound ? keyFound[0] : keyText;
    var problem = !venueId ? "missing_id" : !portal.VENUE_ID.test(venueId) ? "bad_id" : !key ? "missing_key" : null;
    if (problem) {
      signInError(problem);
      $(problem === "missing_key" ? "signin-key" : "signin-venue").focus();
      return;
    }
    $("signin-venue").value = venueId;
    $("signin-key").value = key;
    enter({ venue_id: venueId, api_key: key, name: "" }, $("signin-keep").checked);
  }

  /** Checks the key, then opens the venue (or the page that asked for a sign-in). */
  function enter(candidate, remember) {
    var button = $("signin-submit");
    button.disabled = true;
    button.textContent = t("signing_in");
    signInError(null);
    portal.checkKey(candidate.venue_id, candidate.api_key).then(function (refusal) {
      button.disabled = false;
      button.textContent = t("sign_in");
      if (refusal) {
        signInError(refusal);
        $(refusal === "venue_not_found" ? "signin-venue" : "signin-key").focus();
        return;
      }
      creds = portal.signIn(candidate, remember);
      $("signin-key").value = "";
      var next = new URLSearchParams(window.location.search).get("next");
      if (NEXT_PAGES.indexOf(next) >= 0) {
        window.location.assign(portal.pageUrl(next, creds.venue_id));
        return;
      }
      window.history.replaceState(null, "", portal.pageUrl("dashboard", creds.venue_id));
      openDashboard();
    });
  }

  // --- the overview --------------------------------------------------------------------------------
  function openDashboard() {
    portal.renderNav("dashboard", creds);
    show($("signin-view"), false);
    show($("dashboard-view"), true);
    ["kiosk", "history", "assessment"].forEach(function (name) {
      $("tile-" + name).href = portal.pageUrl(name, creds.venue_id);
    });
    $("device-keep").checked = portal.isKept(creds.venue_id);
    loadVenue().then(function (loaded) {
      if (!loaded) { return; }
      document.body.setAttribute("data-state", "signed-in");
      fillEdit();
      if (venue.active) {
        portal.renderPoster($("poster"), venue, creds.api_key);
      }
      loadRisk();
    });
  }

  function loadVenue() {
    return portal.api("GET", portal.venuePath(creds.venue_id)).then(function (answer) {
      if (!answer.ok) {
        if (answer.code === "venue_not_found") { portal.signOut(); showSignIn(answer.code); return false; }
        document.body.setAttribute("data-state", "error");
        $("venue-name").textContent = portal.errorText(answer.code);
        return false;
      }
      venue = answer.body;
      portal.rename(venue.venue_id, venue.name);
      render();
      portal.areas().then(function (known) { areaNames = portal.areaText(known, venue); render(); });
      return true;
    });
  }

  function loadRisk() {
    var id = creds.venue_id;
    portal.api("GET", portal.venuePath(id, "/risk")).then(function (answer) {
      risk = answer.ok ? answer.body : null;
      render();
    });
    portal.api("GET", portal.venuePath(id, "/occupancy")).then(function (answer) {
      occupancy = answer.ok ? answer.body : null;
      render();
    });
  }

  function render() {
    renderCategories();
    if (document.body.getAttribute("data-state") === "signed-out") { renderKept(); renderSignInError(); }
    if (!venue) { return; }
    $("venue-name").textContent = venue.name;
    $("venue-id").textContent = venue.venue_id;
    $("venue-meta").textContent = [i18n.table().category[venue.category] || venue.category, venue.address,
      areaNames].filter(Boolean).join(" — ");
    show($("venue-inactive"), !venue.active);
    document.body.setAttribute("data-active", String(venue.active));
    portal.renderRisk($("venue-risk"), $("venue-reasons"), risk);
    var line = $("venue-occupancy");
    if (occupancy && typeof occupancy.current === "number") {
      line.textContent = t("occupancy", occupancy.current, occupancy.capacity || venue.capacity);
      line.setAttribute("data-current", String(occupancy.current));
    } else {
      line.textContent = t("occupancy_unknown");
    }
    show($("tiles").querySelector("#tile-kiosk").parentElement, venue.active);
    show($("poster"), venue.active);
    show($("edit"), venue.active);
    $("deactivate").disabled = !venue.active;
    $("device-status").textContent = t(portal.isKept(venue.venue_id) ? "device_kept" : "device_forgotten");
    if ($("confirm").open) { $("confirm-text").textContent = t("confirm_text", venue.name); }
  }

  function renderCategories() {
    var select = $("edit-category");
    var chosen = select.value || (venue && venue.category) || "";
    select.textContent = "";
    portal.CATEGORIES.forEach(function (code) {
      var item = document.createElement("option");
      item.value = code;
      item.textContent = i18n.table().category[code];
      select.appendChild(item);
    });
    select.value = chosen;
  }

  // --- editing -------------------------------------------------------------------------------------
  function fillEdit() {
    $("edit-name").value = venue.name;
    $("edit-category").value = venue.category;
    $("edit-address").value = venue.address;
    $("edit-capacity").value = String(venue.capacity);
    $("edit-rotating").checked = Boolean(venue.rotating_qr_only);
  }

  function editError(name, text) {
    var input = $("edit-" + name);
    $("edit-" + name + "-error").textContent = text || "";
    show($("edit-" + name + "-error"), Boolean(text));
    if (text) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
    return Boolean(text);
  }

  function save(event) {
    event.preventDefault();
    var name = $("edit-name").value.trim();
    var capacity = portal.capacityOf($("edit-capacity").value);
    var wrongName = editError("name", name ? null : t("required"));
    var wrongCapacity = editError("capacity", isNaN(capacity) ? t("bad_capacity") : null);
    if (wrongName || wrongCapacity) { $(wrongName ? "edit-name" : "edit-capacity").focus(); return; }
    var wanted = {
      name: name,
      category: $("edit-category").value,
      address: $("edit-address").value.trim(),
      capacity: capacity,
      rotating_qr_only: $("edit-rotating").checked
    };
    var changes = {};
    Object.keys(wanted).forEach(function (field) { if (wanted[field] !== venue[field]) { changes[field] = wanted[field]; } });
    var status = $("edit-status");
    status.removeAttribute("data-code");
    if (!Object.keys(changes).length) { status.textContent = t("nothing_changed"); return; }
    $("edit-submit").disabled = true;
    status.textContent = t("saving");
    portal.api("PATCH", portal.venuePath(venue.venue_id), { key: creds.api_key, body: changes }).then(function (answer) {
      $("edit-submit").disabled = false;
      if (!answer.ok) {
        status.textContent = portal.errorText(answer.code);
        status.setAttribute("data-code", answer.code);
        return;
      }
      var rotatingChanged = answer.body.rotating_qr_only !== venue.rotating_qr_only;
      venue = answer.body;
      portal.rename(venue.venue_id, venue.name);
      status.textContent = t("saved");
      status.setAttribute("data-saved-at", new Date().toISOString());
      if (rotatingChanged || changes.name) { portal.renderPoster($("poster"), venue, creds.api_key); }
      render();
      loadRisk();
    });
  }

  // --- deactivating --------------------------------------------------------------------------------
  function askDeactivate() {
    $("confirm-text").textContent = t("confirm_text", venue.name);
    $("confirm").showModal();
    $("confirm-cancel").focus();
  }

  function deactivate() {
    $("confirm-yes").disabled = true;
    portal.api("DELETE", portal.venuePath(venue.venue_id), { key: creds.api_key }).then(function (answer) {
      $("confirm-yes").disabled = false;
      $("confirm").close();
      var status = $("deactivate-status");
      if (!answer.ok && answer.code !== "venue_inactive") {
        status.textContent = portal.errorText(answer.code);
        status.setAttribute("data-code", answer.code);
        show(status, true);
        return;
      }
      show(status, false);
      if (answer.ok) { venue = answer.body; } else { venue.active = false; }
      render();
      $("venue-name").focus();
    });
  }

  // --- wiring --------------------------------------------------------------------------------------
  $("signin").addEventListener("submit", signIn);
  $("edit").addEventListener("submit", save);
  $("device-keep").addEventListener("change", function () {
    if ($("device-keep").checked) { portal.keep(creds); } else { portal.forget(creds.venue_id); }
    render();
  });
  $("deactivate").addEventListener("click", askDeactivate);
  $("confirm-cancel").addEventListener("click", function () { $("confirm").close(); $("deactivate").focus(); });
  $("confirm-yes").addEventListener("click", deactivate);
  $("venue-name").setAttribute("tabindex", "-1");

  i18n.apply();
  creds = portal.credentials();
  if (!creds) {
    showSignIn(null);
  } else {
    // A key kept on the device may have stopped working (the venue gone): it is checked first.
    portal.checkKey(creds.venue_id, creds.api_key).then(function (refusal) {
      if (refusal && refusal !== "network") {
        portal.signOut();
        showSignIn(refusal);
        return;
      }
      openDashboard();
    });
  }
})();
