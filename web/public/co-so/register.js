/* Registering a venue (SPEC §3.2): the form, POST /v1/venues, and the result: the poster's QR code with
 * its downloads, and the venue's API key shown this once, with the choice to keep it on this device.
 *
 * Province, district and ward are chosen from lists (areas.json: the 63 provinces, and Thanh Hóa's districts
 * and wards); for a province whose units the list does not have, the district and ward codes are typed. */
(function () {
  "use strict";

  var portal = window.AntoanPortal;
  var $ = portal.$;
  var show = portal.show;
  var BOUNDS = { lat: [8, 24], lon: [102, 118] };  // Vietnam with its islands, as ingest checks
  var LOCATE_TIMEOUT_MS = 20000;

  var TEXT = {
    vi: {
      page_title: "Antoan — Đăng ký cơ sở",
      title: "Đăng ký cơ sở",
      form_title: "Thông tin cơ sở",
      form_hint: "Các ô có dấu * là bắt buộc. Sau khi đăng ký, bạn nhận áp phích mã QR và khoá của cơ sở.",
      choose: "— Chọn —",
      address_label: "Địa chỉ (số nhà, đường)",
      area_legend: "Địa bàn hành chính",
      province_label: "Tỉnh/thành phố",
      district_label: "Quận/huyện",
      ward_label: "Phường/xã",
      district_code_hint: "Chưa có danh sách cho tỉnh này: nhập mã quận/huyện 3 chữ số (không bắt buộc).",
      ward_code_hint: "Nhập mã phường/xã 5 chữ số (không bắt buộc).",
      area_hint: "Mã theo Danh mục đơn vị hành chính Việt Nam của Tổng cục Thống kê (danhmuchanhchinh.gso.gov.vn).",
      location_legend: "Vị trí trên bản đồ",
      location_hint: "Để cơ sở hiện trên bản đồ an toàn. Bấm nút khi đang ở cơ sở, hoặc nhập vĩ độ và kinh độ.",
      locate: "Dùng vị trí hiện tại của tôi",
      locating: "Đang lấy vị trí…",
      located: function (accuracy) { return "Đã lấy vị trí (sai số khoảng " + accuracy + " m). Hãy kiểm tra lại trước khi đăng ký."; },
      locate_denied: "Trình duyệt không cho phép lấy vị trí. Hãy cho phép trong cài đặt, hoặc nhập vĩ độ và kinh độ.",
      locate_failed: "Không lấy được vị trí. Hãy thử lại ở nơi thoáng, hoặc nhập vĩ độ và kinh độ.",
      locate_unsupported: "Trình duyệt này không lấy được vị trí. Hãy nhập vĩ độ và kinh độ.",
      locate_outside: "Vị trí hiện tại không ở Việt Nam. Hãy nhập vĩ độ và kinh độ của cơ sở.",
      locate_insecure: "Trình duyệt chỉ cho lấy vị trí khi trang được mở qua https. Hãy nhập vĩ độ và kinh độ.",
      lat_label: "Vĩ độ",
      lon_label: "Kinh độ",
      owner_label: "Số điện thoại chủ cơ sở (không bắt buộc)",
      owner_hint: "Để cơ quan y tế liên hệ khi cần. Được lưu mã hoá, không công khai.",
      rotating_hint: "Mã trên màn hình đổi sau vài phút, nên ảnh chụp mã không dùng để khai báo từ xa được. Khi chọn, mã trên áp phích in sẵn không còn nhận; cần một màn hình ở lối vào mở trang “Màn hình lối vào”.",
      submit: "Đăng ký",
      submitting: "Đang đăng ký…",
      have_key: "Đã có khoá của cơ sở?",
      choose_one: "Hãy chọn một mục.",
      bad_code: function (digits) { return "Mã gồm đúng " + digits + " chữ số."; },
      bad_lat: "Vĩ độ ở Việt Nam nằm trong khoảng 8 đến 24 (ví dụ 19.8067).",
      bad_lon: "Kinh độ ở Việt Nam nằm trong khoảng 102 đến 118 (ví dụ 105.7852).",
      both_coordinates: "Nhập cả vĩ độ và kinh độ, hoặc để trống cả hai.",
      check_fields: "Hãy sửa các ô được đánh dấu.",
      registered: "Đã đăng ký",
      key_title: "Khoá của cơ sở: hãy lưu lại ngay",
      key_once: "Khoá chỉ hiện một lần, ngay bây giờ.",
      key_why: "Hệ thống không lưu khoá nên không thể xem lại hay gửi lại. Cần khoá để mở màn hình lối vào, xem lịch sử khách, tự đánh giá, tải áp phích và sửa thông tin; đăng nhập cần cả mã cơ sở ở trên và khoá này. Giữ kín: ai có khoá đều quản lý được cơ sở.",
      copy_key: "Sao chép khoá",
      keep_hint: "Chỉ chọn trên thiết bị riêng của cơ sở (ví dụ máy ở lối vào): ai dùng thiết bị này cũng mở được trang của cơ sở. Bỏ chọn để quên khoá.",
      saved_label: "Tôi đã lưu khoá ở nơi an toàn",
      continue: "Mở trang của cơ sở"
    },
    en: {
      page_title: "Antoan — Register a venue",
      title: "Register a venue",
      form_title: "The venue",
      form_hint: "Fields marked * are required. Once registered, you get the venue's QR poster and its key.",
      choose: "— Choose —",
      address_label: "Address (number, street)",
      area_legend: "Administrative area",
      province_label: "Province/city",
      district_label: "District",
      ward_label: "Ward/commune",
      district_code_hint: "No list for this province yet: type the 3-digit district code (optional).",
      ward_code_hint: "Type the 5-digit ward code (optional).",
      area_hint: "Codes of Vietnam's national list of administrative units (General Statistics Office, danhmuchanhchinh.gso.gov.vn).",
      location_legend: "Location on the map",
      location_hint: "So that the venue shows on the safety map. Press the button while at the venue, or type the latitude and longitude.",
      locate: "Use my location",
      locating: "Finding the location…",
      located: function (accuracy) { return "Location found (to about " + accuracy + " m). Check it before registering."; },
      locate_denied: "The browser may not use the location. Allow it in the settings, or type the latitude and longitude.",
      locate_failed: "The location could not be found. Try again in the open, or type the latitude and longitude.",
      locate_unsupported: "This browser cannot find the location. Type the latitude and longitude.",
      locate_outside: "The current location is not in Vietnam. Type the venue's latitude and longitude.",
      locate_insecure: "Browsers give the location only to pages opened over https. Type the latitude and longitude.",
      lat_label: "Latitude",
      lon_label: "Longitude",
      owner_label: "Owner's phone number (optional)",
      owner_hint: "For the health authority to reach you if needed. Stored encrypted, never public.",
      rotating_hint: "The screen's code changes every few minutes, so a photo of it cannot be used to check in from elsewhere. When ticked, the printed poster's code is no longer taken; a screen at the entrance must show the “Entrance screen” page.",
      submit: "Register",
      submitting: "Registering…",
      have_key: "Already have the venue's key?",
      choose_one: "Choose one.",
      bad_code: function (digits) { return "The code is exactly " + digits + " digits."; },
      bad_lat: "Latitudes in Vietnam are between 8 and 24 (e.g. 19.8067).",
      bad_lon: "Longitudes in Vietnam are between 102 and 118 (e.g. 105.7852).",
      both_coordinates: "Type both the latitude and the longitude, or neither.",
      check_fields: "Correct the marked fields.",
      registered: "Registered",
      key_title: "The venue's key: keep it now",
      key_once: "The key is shown once, now.",
      key_why: "The system does not store it, so it cannot be shown or sent again. The key opens the entrance screen, the visitor history, the self-assessment, the poster downloads and the venue's settings; signing in takes the venue ID above and this key. Keep it secret: whoever has it manages the venue.",
      copy_key: "Copy the key",
      keep_hint: "Only on the venue's own device (such as the entrance screen's): anyone using this device can open the venue's pages. Untick to forget the key.",
      saved_label: "I have kept the key somewhere safe",
      continue: "Open the venue's pages"
    }
  };

  var i18n = portal.start(TEXT, renderLists);
  var t = i18n.t;
  var areas = { provinces: [], districts: {} };
  var created = null;  // {venue_id, api_key, name}: this page's registration, shown once
  var busy = false;

  // --- lists ---------------------------------------------------------------------------------------
  function option(value, text) {
    var element = document.createElement("option");
    element.value = value;
    element.textContent = text;
    return element;
  }

  function fill(select, entries, chosen) {
    select.textContent = "";
    select.appendChild(option("", t("choose")));
    entries.forEach(function (entry) { select.appendChild(option(entry[0], entry[1])); });
    select.value = entries.some(function (entry) { return entry[0] === chosen; }) ? chosen : "";
  }

  function districtsOf(provinceCode) { return areas.districts[provinceCode] || null; }

  function renderLists() {
    var category = $("category").value;
    fill($("category"), portal.CATEGORIES.map(function (code) { return [code, i18n.table().category[code]]; }), category);
    fill($("province"), areas.provinces.map(function (p) { return [p.code, p.name]; }), $("province").value);
    renderDistricts();
  }

  /** The district and ward choosers for the province chosen: lists where areas.json has them, else codes. */
  function renderDistricts() {
    var districts = districtsOf($("province").value);
    var listed = Boolean(districts);
    show($("district"), listed);
    show($("ward"), listed);
    show($("district-code"), !listed);
    show($("ward-code"), !listed);
    show($("district-code-hint"), !listed);
    show($("district-mark"), listed);
    show($("ward-mark"), listed);
    show($("ward-code-hint"), !listed);
    // The label points at whichever of the two is shown.
    $("district-label").setAttribute("for", listed ? "district" : "district-code");
    $("ward-label").setAttribute("for", listed ? "ward" : "ward-code");
    $("district").required = listed;
    $("ward").required = listed;
    if (listed) {
      fill($("district"), districts.map(function (d) { return [d.code, d.name]; }), $("district").value);
    }
    renderWards();
  }

  function renderWards() {
    var districts = districtsOf($("province").value) || [];
    var district = districts.filter(function (d) { return d.code === $("district").value; })[0];
    fill($("ward"), district ? district.wards : [], $("ward").value);
    $("ward").disabled = !district;
  }

  function loadAreas() {
    return portal.areas().then(function (known) {
      areas = known;
      renderLists();
      document.body.setAttribute("data-areas", String(areas.provinces.length));
    });
  }

  // --- location ------------------------------------------------------------------------------------
  function locate() {
    var status = $("locate-status");
    if (!navigator.geolocation) { status.textContent = t("locate_unsupported"); return; }
    // Browsers give the location to https pages only (and to this machine's own address).
    if (window.isSecureContext === false) { status.textContent = t("locate_insecure"); return; }
    status.textContent = t("locating");
    $("locate").disabled = true;
    navigator.geolocation.getCurrentPosition(function (position) {
      $("locate").disabled = false;
      var lat = position.coords.latitude;
      var lon = position.coords.longitude;
      if (!within(lat, BOUNDS.lat) || !within(lon, BOUNDS.lon)) { status.textContent = t("locate_outside"); return; }
      $("lat").value = lat.toFixed(6);
      $("lon").value = lon.toFixed(6);
      fieldError("lat", null);
      fieldError("lon", null);
      status.textContent = t("located", Math.round(position.coords.accuracy || 0));
    }, function (error) {
      $("locate").disabled = false;
      status.textContent = t(error && error.code === 1 ? "locate_denied" : "locate_failed");
    }, { enableHighAccuracy: true, timeout: LOCATE_TIMEOUT_MS, maximumAge: 60000 });
  }

  function within(value, range) { return typeof value === "number" && value >= range[0] && value <= range[1]; }

  // --- the form ------------------------------------------------------------------------------------
  function fieldError(name, text) {
    var input = { district: districtInput(), ward: wardInput(), owner: $("owner-phone") }[name] || $(name);
    var element = $(name + "-error");
    element.textContent = text || "";
    show(element, Boolean(text));
    if (text) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
    return text ? input : null;
  }

  function districtInput() { return districtsOf($("province").value) ? $("district") : $("district-code"); }
  function wardInput() { return districtsOf($("province").value) ? $("ward") : $("ward-code"); }

  function number(text) {
    var cleaned = text.trim().replace(",", ".");
    return /^-?\d+(\.\d+)?$/.test(cleaned) ? Number(cleaned) : NaN;
  }

  /** The request body, or null after marking what is wrong (the first wrong field gets the focus). */
  function collect() {
    var wrong = [];
    var mark = function (name, text) { var input = fieldError(name, text); if (input) { wrong.push(input); } };
    var body = {
      name: $("name").value.trim(),
      category: $("category").value,
      address: $("address").value.trim(),
      province_code: $("province").value,
      district_code: districtInput().value.trim(),
      ward_code: wardInput().value.trim(),
      rotating_qr_only: $("rotating-only").checked
    };
    mark("name", body.name ? null : t("required"));
    mark("category", body.category ? null : t("choose_one"));
    mark("province", body.province_code ? null : t("choose_one"));
    var listed = Boolean(districtsOf(body.province_code));
    mark("district", listed ? (body.district_code ? null : t("choose_one")) :
      (!body.district_code || /^\d{3}$/.test(body.district_code) ? null : t("bad_code", 3)));
    mark("ward", listed ? (body.ward_code ? null : t("choose_one")) :
      (!body.ward_code || /^\d{5}$/.test(body.ward_code) ? null : t("bad_code", 5)));
    var capacity = portal.capacityOf($("capacity").value);
    mark("capacity", isNaN(capacity) ? t("bad_capacity") : null);
    body.capacity = capacity;
    var latText = $("lat").value.trim();
    var lonText = $("lon").value.trim();
    if (latText || lonText) {
      var lat = number(latText);
      var lon = number(lonText);
      mark("lat", !latText ? t("both_coordinates") : within(lat, BOUNDS.lat) ? null : t("bad_lat"));
      mark("lon", !lonText ? t("both_coordinates") : within(lon, BOUNDS.lon) ? null : t("bad_lon"));
      body.lat = lat;
      body.lon = lon;
    } else {
      mark("lat", null);
      mark("lon", null);
    }
    var owner = $("owner-phone").value.trim();
    if (owner) { body.owner_phone = owner; }
    mark("owner", null);
    if (wrong.length) {
      formError(t("check_fields"));
      wrong[0].focus();
      return null;
    }
    formError(null);
    return body;
  }

  function formError(text, code) {
    $("form-error").textContent = text || "";
    $("form-error").setAttribute("data-code", code || "");
    show($("form-error"), Boolean(text));
  }

  /** A 422's fields (`detail[].loc`), marked where the form has them. */
  function markInvalid(detail) {
    var fields = { name: "name", category: "category", province_code: "province", district_code: "district",
      ward_code: "ward", capacity: "capacity", lat: "lat", lon: "lon", owner_phone: "owner" };
    var first = null;
    (Array.isArray(detail) ? detail : []).forEach(function (problem) {
      var field = fields[(problem.loc || [])[1]];
      if (field) { first = first || fieldError(field, problem.msg || t("check_fields")); }
    });
    if (first) { first.focus(); }
  }

  function submit(event) {
    event.preventDefault();
    if (busy) { return; }
    var body = collect();
    if (!body) { return; }
    setBusy(true);
    portal.api("POST", "/v1/venues", { body: body }).then(function (answer) {
      setBusy(false);
      if (answer.status === 201 && answer.body && answer.body.venue_id) {
        registered(answer.body, body);
        return;
      }
      if (answer.code === "invalid_owner_phone") {
        fieldError("owner", portal.errorText(answer.code)).focus();
      } else if (answer.code === "invalid_request") {
        markInvalid(answer.body && answer.body.error && answer.body.error.detail);
      }
      formError(portal.errorText(answer.code), answer.code);
    });
  }

  function setBusy(value) {
    busy = value;
    $("submit").disabled = value;
    $("submit").textContent = t(value ? "submitting" : "submit");
  }

  // --- the result ----------------------------------------------------------------------------------
  function registered(answer, body) {
    created = { venue_id: answer.venue_id, api_key: answer.api_key, name: body.name };
    // This tab is signed in as the new venue; the key stays on the device only if the owner ticks it.
    portal.signIn(created, false);
    $("result-name").textContent = body.name;
    $("result-venue-id").textContent = answer.venue_id;
    $("result-key").textContent = answer.api_key;
    $("register").reset();
    show($("register"), false);
    show($("result"), true);
    document.body.setAttribute("data-state", "registered");
    portal.renderPoster($("poster"), { venue_id: answer.venue_id, name: body.name, rotating_qr_only: body.rotating_qr_only }, answer.api_key);
    window.scrollTo(0, 0);
    $("result").focus();
  }

  function keepChanged() {
    if (!created) { return; }
    if ($("keep-key").checked) { portal.keep(created); } else { portal.forget(created.venue_id); }
  }

  function goOn() {
    if (!created) { return; }
    // The key leaves the page: it is not shown again.
    $("result-key").textContent = "";
    window.location.assign(portal.pageUrl("dashboard", created.venue_id));
  }

  // --- wiring --------------------------------------------------------------------------------------
  $("register").addEventListener("submit", submit);
  $("province").addEventListener("change", function () {
    $("district").value = "";
    $("ward").value = "";
    renderDistricts();
  });
  $("district").addEventListener("change", function () { $("ward").value = ""; renderWards(); });
  $("locate").addEventListener("click", locate);
  portal.copyButton($("copy-key"), $("result-key"), $("copy-key-status"));
  portal.copyButton($("copy-id"), $("result-venue-id"), $("copy-id-status"));
  $("keep-key").addEventListener("change", keepChanged);
  $("key-saved").addEventListener("change", function () { $("continue").disabled = !$("key-saved").checked; });
  $("continue").addEventListener("click", goOn);

  i18n.apply();
  loadAreas();
})();
