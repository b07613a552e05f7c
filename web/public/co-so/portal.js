/* The venue portal's shared part (issue 14 item 5; SPEC §3.2, §4.1): who is signed in, the API with the
 * venue's key, refusals in words, the pages' navigation, and the poster block (the QR image and its
 * downloads) that the registration result and the overview both show.
 *
 * A venue is signed in on a browser tab (sessionStorage) with its id and its API key; keeping the key on
 * the device (localStorage) is the owner's choice, made explicitly, and can be undone ("forget"). The
 * routes that need the key get it as a bearer token, so images and files are fetched by script and shown
 * as data: URLs (the pages' Content-Security-Policy allows `img-src 'self' data:`, not blob:) or saved
 * through a short-lived object URL that is revoked at once.
 * Plain script, no build step, nothing from beyond this origin. */
(function (global) {
  "use strict";

  var SESSION_KEY = "antoan.venue.session";  // sessionStorage: {venue_id, api_key, name} of this tab
  var KEPT_KEY = "antoan.venue.keys";        // localStorage, opt-in: venue_id -> {api_key, name}
  var PAGES = {
    dashboard: "/co-so/",
    kiosk: "/co-so/man-hinh.html",
    history: "/co-so/lich-su.html",
    assessment: "/co-so/tu-danh-gia.html",
    scanner: "/co-so/quet/",
    register: "/co-so/dang-ky.html"
  };
  var NAV = ["dashboard", "kiosk", "scanner", "history", "assessment"];
  // antoan_shared.events.VenueCategory, in the order the forms list them (their words: app/i18n.js).
  var CATEGORIES = ["restaurant", "cafe", "shop", "supermarket", "market", "office", "company", "factory", "school",
    "hospital", "hotel", "government", "place_of_worship", "public_transport", "other"];
  var VENUE_ID = /^v_[0-9a-f]{16}$/;
  var TIMEOUT_MS = 15000;
  var MAX_CAPACITY = 1000000;  // ingest's bound
  var SAVED_URL_LIFE_MS = 10000;  // long enough for the browser to start the download

  var TEXT = {
    vi: {
      portal: "Cơ sở",
      nav_label: "Trang của cơ sở",
      nav_dashboard: "Tổng quan",
      nav_kiosk: "Màn hình lối vào",
      nav_scanner: "Quét mã khách",
      nav_history: "Lịch sử khách",
      nav_assessment: "Tự đánh giá",
      sign_out: "Đăng xuất",
      need_sign_in: "Trang này cần mã cơ sở và khoá của cơ sở.",
      sign_in: "Đăng nhập",
      venue_id: "Mã cơ sở",
      name_label: "Tên cơ sở",
      category_label: "Loại hình",
      capacity_label: "Sức chứa (số người tối đa có mặt cùng lúc)",
      rotating_label: "Chỉ nhận mã trên màn hình ở lối vào",
      keep_label: "Ghi nhớ khoá trên thiết bị này",
      required: "Hãy điền ô này.",
      bad_capacity: "Nhập một số nguyên từ 1 đến 1.000.000.",
      copy: "Sao chép",
      copied: "Đã sao chép.",
      copy_failed: "Không sao chép được: hãy chọn và sao chép bằng tay.",
      poster_title: "Áp phích mã QR",
      poster_hint: "In áp phích và dán ở lối vào: khách quét mã bằng camera điện thoại, không cần cài ứng dụng.",
      poster_rotating_only: "Cơ sở đang chỉ nhận mã trên màn hình ở lối vào: mã trên áp phích in sẵn không dùng để khai báo được.",
      poster_alt: function (name) { return "Mã QR trên áp phích của " + name; },
      poster_loading: "Đang tải mã QR…",
      download_png: "Tải ảnh PNG",
      download_svg: "Tải ảnh SVG",
      download_pdf: "Tải áp phích A4 (PDF)",
      downloading: "Đang tải…",
      downloaded: function (name) { return "Đã tải " + name + "."; },
      reason: {
        case_present_72h: "Có ca bệnh (F0) có mặt trong 72 giờ qua",
        case_present_14d: "Có ca bệnh (F0) có mặt trong 14 ngày qua",
        cleared: "Đã khử khuẩn, được cơ quan y tế xác nhận",
        over_capacity: "Số người có mặt vượt sức chứa",
        near_capacity: "Số người có mặt từ 80% sức chứa trở lên",
        low_self_assessment: function (detail) {
          return "Điểm tự đánh giá " + detail.score + "/100, dưới ngưỡng " + detail.threshold;
        },
        area_level: "Phường/xã hoặc quận/huyện đang ở cấp độ 3 trở lên",
        no_risk_factors: "Không có yếu tố nguy cơ"
      },
      errors: {
        network: "Không kết nối được máy chủ. Hãy kiểm tra mạng rồi thử lại.",
        venue_key_required: "Cần khoá của cơ sở.",
        invalid_venue_key: "Khoá không đúng với cơ sở này. Hãy kiểm tra lại mã cơ sở và khoá.",
        venue_not_found: "Không tìm thấy cơ sở có mã này.",
        venue_inactive: "Cơ sở này đã ngừng hoạt động.",
        venues_loading: "Hệ thống đang khởi động. Hãy thử lại sau ít giây.",
        rate_limited: "Có quá nhiều yêu cầu từ máy này. Hãy thử lại sau ít phút.",
        invalid_request: "Thông tin chưa hợp lệ. Hãy kiểm tra các ô được đánh dấu.",
        invalid_owner_phone: "Số điện thoại của chủ cơ sở không hợp lệ.",
        invalid_range: "Khoảng thời gian không hợp lệ: tối đa 21 ngày, ngày bắt đầu không sau ngày kết thúc.",
        unknown_criterion: "Bảng tiêu chí vừa thay đổi. Hãy tải lại trang rồi đánh giá lại.",
        risk_not_evaluated: "Cấp độ nguy cơ của cơ sở chưa được đánh giá.",
        service_unavailable: "Dịch vụ tạm thời không trả lời. Hãy thử lại sau ít phút.",
        service_timeout: "Dịch vụ trả lời quá chậm. Hãy thử lại sau ít phút.",
        other: "Có lỗi xảy ra."
      },
      error_code: "Mã lỗi"
    },
    en: {
      portal: "Venues",
      nav_label: "Venue pages",
      nav_dashboard: "Overview",
      nav_kiosk: "Entrance screen",
      nav_scanner: "Scan visitors",
      nav_history: "Visitor history",
      nav_assessment: "Self-assessment",
      sign_out: "Sign out",
      need_sign_in: "This page needs the venue's ID and key.",
      sign_in: "Sign in",
      venue_id: "Venue ID",
      name_label: "Venue name",
      category_label: "Kind of venue",
      capacity_label: "Capacity (most people present at once)",
      rotating_label: "Only take the code on the entrance screen",
      keep_label: "Keep the key on this device",
      required: "Fill in this field.",
      bad_capacity: "Type a whole number from 1 to 1,000,000.",
      copy: "Copy",
      copied: "Copied.",
      copy_failed: "Could not copy: select it and copy it by hand.",
      poster_title: "QR poster",
      poster_hint: "Print the poster and put it up at the entrance: visitors scan it with their phone's camera, no app needed.",
      poster_rotating_only: "The venue only takes the code on its entrance screen: the printed poster's code cannot be used to check in.",
      poster_alt: function (name) { return "QR code on the poster of " + name; },
      poster_loading: "Loading the QR code…",
      download_png: "Download PNG image",
      download_svg: "Download SVG image",
      download_pdf: "Download A4 poster (PDF)",
      downloading: "Downloading…",
      downloaded: function (name) { return name + " downloaded."; },
      reason: {
        case_present_72h: "A confirmed case (F0) was here in the last 72 hours",
        case_present_14d: "A confirmed case (F0) was here in the last 14 days",
        cleared: "Disinfected, cleared by the health authority",
        over_capacity: "More people present than the capacity",
        near_capacity: "People present at 80% of capacity or more",
        low_self_assessment: function (detail) {
          return "Self-assessment score " + detail.score + "/100, below the threshold of " + detail.threshold;
        },
        area_level: "The ward or district is at level 3 or higher",
        no_risk_factors: "No risk factors"
      },
      errors: {
        network: "Could not reach the server. Check the network and try again.",
        venue_key_required: "The venue's key is needed.",
        invalid_venue_key: "The key does not belong to this venue. Check the venue ID and the key.",
        venue_not_found: "No venue has this ID.",
        venue_inactive: "This venue has been deactivated.",
        venues_loading: "The system is starting up. Try again in a few seconds.",
        rate_limited: "Too many requests from this device. Try again in a few minutes.",
        invalid_request: "Some details are not valid. Check the marked fields.",
        invalid_owner_phone: "The owner's phone number is not valid.",
        invalid_range: "Not a valid period: at most 21 days, and the start not after the end.",
        unknown_criterion: "The checklist has just changed. Reload the page and answer again.",
        risk_not_evaluated: "The venue's risk level has not been evaluated yet.",
        service_unavailable: "The service is not answering for now. Try again in a few minutes.",
        service_timeout: "The service took too long to answer. Try again in a few minutes.",
        other: "Something went wrong."
      },
      error_code: "Error code"
    }
  };
  // What a refusal without a code of ours (a proxy's, say) means, by HTTP status.
  var BY_STATUS = { 401: "venue_key_required", 403: "invalid_venue_key", 404: "venue_not_found", 409: "venue_inactive",
    422: "invalid_request", 429: "rate_limited", 502: "service_unavailable", 503: "service_unavailable", 504: "service_timeout" };

  var i18n = null;
  var refreshers = {};  // by part: what the shared parts re-render when the language changes (one each)

  function $(id) { return document.getElementById(id); }
  function t() { return i18n.t.apply(null, arguments); }
  function show(element, visible) { element.hidden = !visible; }

  /** The page's translator, with the portal's own texts merged under the page's. */
  function start(pageTexts, onChange) {
    var texts = {};
    ["vi", "en"].forEach(function (lang) {
      var merged = {};
      Object.keys(TEXT[lang]).forEach(function (key) { merged[key] = TEXT[lang][key]; });
      Object.keys((pageTexts || {})[lang] || {}).forEach(function (key) { merged[key] = pageTexts[lang][key]; });
      texts[lang] = merged;
    });
    i18n = global.AntoanI18n.create(texts, function (lang) {
      Object.keys(refreshers).forEach(function (part) { refreshers[part](); });
      if (onChange) { onChange(lang); }
    });
    return i18n;
  }

  // --- storage -------------------------------------------------------------------------------------
  function read(storage, key) {
    try { var value = JSON.parse(global[storage].getItem(key) || "null"); return value && typeof value === "object" ? value : null; } catch (e) { return null; }
  }
  function write(storage, key, value) {
    try {
      if (value == null) { global[storage].removeItem(key); } else { global[storage].setItem(key, JSON.stringify(value)); }
    } catch (e) { /* storage refused (private mode): this page only */ }
  }
  function usable(entry) { return entry && typeof entry.venue_id === "string" && typeof entry.api_key === "string"; }

  /** Venues whose key the owner chose to keep on this device: venue_id -> {api_key, name}. */
  function kept() {
    var all = read("localStorage", KEPT_KEY) || {};
    Object.keys(all).forEach(function (id) { if (!all[id] || typeof all[id].api_key !== "string") { delete all[id]; } });
    return all;
  }
  function isKept(venueId) { return Object.prototype.hasOwnProperty.call(kept(), venueId); }
  function keep(creds) {
    var all = kept();
    all[creds.venue_id] = { api_key: creds.api_key, name: creds.name || "" };
    write("localStorage", KEPT_KEY, all);
  }
  function forget(venueId) {
    var all = kept();
    delete all[venueId];
    write("localStorage", KEPT_KEY, Object.keys(all).length ? all : null);
  }

  function session() {
    var entry = read("sessionStorage", SESSION_KEY);
    return usable(entry) ? entry : null;
  }
  function signIn(creds, remember) {
    var entry = { venue_id: creds.venue_id, api_key: creds.api_key, name: creds.name || "" };
    write("sessionStorage", SESSION_KEY, entry);
    if (remember) { keep(entry); }
    return entry;
  }
  function signOut() { write("sessionStorage", SESSION_KEY, null); }
  /** The venue's name as last seen, wherever the key is held. */
  function rename(venueId, name) {
    var current = session();
    if (current && current.venue_id === venueId) { current.name = name; write("sessionStorage", SESSION_KEY, current); }
    if (isKept(venueId)) { var all = kept(); all[venueId].name = name; write("localStorage", KEPT_KEY, all); }
  }

  function requestedVenue() {
    var id = new URLSearchParams(global.location.search).get("venue");
    return id && VENUE_ID.test(id) ? id : null;
  }

  /** The key for the venue the address names (`?venue=`), else this tab's venue, else the only kept one. */
  function credentials() {
    var wanted = requestedVenue();
    var current = session();
    if (current && (!wanted || current.venue_id === wanted)) { return current; }
    var all = kept();
    var ids = Object.keys(all);
    var id = wanted || (ids.length === 1 ? ids[0] : null);
    if (id && all[id]) { return signIn({ venue_id: id, api_key: all[id].api_key, name: all[id].name }, false); }
    return null;
  }

  function pageUrl(name, venueId, extra) {
    var query = new URLSearchParams(extra || {});
    if (venueId) { query.set("venue", venueId); }
    var text = query.toString();
    return PAGES[name] + (text ? "?" + text : "");
  }

  // --- the API -------------------------------------------------------------------------------------
  function errorCode(body, status) {
    var code = body && body.error && typeof body.error.code === "string" ? body.error.code : null;
    return code || BY_STATUS[status] || (status >= 500 ? "service_unavailable" : "other");
  }

  /** One request. `options`: key (the venue's), body (JSON), as ("json" | "blob"), timeout (ms). Resolves
   * with {ok, status, body, blob, headers, code}; `code` is the refusal's (or "network": no answer). */
  function api(method, path, options) {
    options = options || {};
    var headers = { Accept: options.as === "blob" ? "*/*" : "application/json" };
    if (options.key) { headers.Authorization = "Bearer " + options.key; }
    if (options.body !== undefined) { headers["Content-Type"] = "application/json"; }
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, options.timeout || TIMEOUT_MS);
    var init = {
      method: method, headers: headers, cache: "no-store", credentials: "omit", signal: controller.signal,
      body: options.body === undefined ? undefined : JSON.stringify(options.body)
    };
    return global.fetch(path, init).then(function (response) {
      var wantsBlob = response.ok && options.as === "blob";
      var reading = wantsBlob ? response.blob() : response.text().then(function (text) {
        try { return text ? JSON.parse(text) : null; } catch (e) { return null; }
      });
      return reading.then(function (content) {
        return {
          ok: response.ok, status: response.status, headers: response.headers,
          body: wantsBlob ? null : content, blob: wantsBlob ? content : null,
          code: response.ok ? null : errorCode(content, response.status)
        };
      });
    }).catch(function () {
      return { ok: false, status: 0, headers: null, body: null, blob: null, code: "network" };
    }).then(function (answer) {
      clearTimeout(timer);
      return answer;
    });
  }

  function venuePath(venueId, tail) { return "/v1/venues/" + encodeURIComponent(venueId) + (tail || ""); }

  /** Whether `key` is the venue's: its screen code is asked for (nothing is written). A deactivated venue
   * (409) is still the key holder's. Resolves with the refusal's code, or null when the key is right. */
  function checkKey(venueId, key) {
    return api("GET", venuePath(venueId, "/qr/rotating"), { key: key }).then(function (answer) {
      return answer.ok || answer.code === "venue_inactive" ? null : answer.code;
    });
  }

  function errorText(code) {
    var errors = i18n.table().errors;
    return errors[code] || errors.other + " (" + t("error_code") + ": " + code + ")";
  }

  function reasonText(reason) {
    var text = i18n.table().reason[reason.code];
    if (typeof text === "function") { return text(reason.detail || {}); }
    return text || reason.code;
  }

  /** The risk badge (base.css `.level-badge`) and, if given, the reasons as list items. */
  function renderRisk(badge, list, risk) {
    var level = risk && [1, 2, 3, 4].indexOf(risk.level) >= 0 ? risk.level : 0;
    badge.setAttribute("data-level", String(level));
    badge.textContent = level ? t("level_short") + " " + level + ": " + i18n.table().level[level] : t("unknown_level");
    if (!list) { return; }
    list.textContent = "";
    ((risk && risk.reasons) || []).forEach(function (reason) {
      var item = document.createElement("li");
      item.setAttribute("data-reason", reason.code);
      item.textContent = reasonText(reason);
      list.appendChild(item);
    });
  }

  /** A capacity as typed ("1.200", "1 200"): a whole number from 1 to MAX_CAPACITY, else NaN. */
  function capacityOf(text) {
    var digits = String(text).replace(/[\s.,]/g, "");
    var value = /^\d{1,7}$/.test(digits) ? parseInt(digits, 10) : NaN;
    return value >= 1 && value <= MAX_CAPACITY ? value : NaN;
  }

  // --- administrative areas ------------------------------------------------------------------------
  var areasLoaded = null;

  /** areas.json, once per page: {provinces: [{code, name}], districts: {province code: [{code, name, wards}]}}
   * (empty lists when it cannot be read: the codes are then typed, or shown as codes). */
  function areas() {
    if (!areasLoaded) {
      areasLoaded = api("GET", "/co-so/areas.json").then(function (answer) {
        var body = answer.ok && answer.body && Array.isArray(answer.body.provinces) ? answer.body : {};
        return { provinces: body.provinces || [], districts: body.districts || {} };
      });
    }
    return areasLoaded;
  }

  /** The names of a venue's ward, district and province, as far as areas.json knows them (else the codes). */
  function areaText(known, venue) {
    var province = known.provinces.filter(function (p) { return p.code === venue.province_code; })[0];
    var district = (known.districts[venue.province_code] || []).filter(function (d) { return d.code === venue.district_code; })[0];
    var ward = district && district.wards.filter(function (w) { return w[0] === venue.ward_code; })[0];
    return [ward ? ward[1] : venue.ward_code, district ? district.name : venue.district_code,
      province ? province.name : venue.province_code].filter(Boolean).join(", ");
  }

  // --- files ---------------------------------------------------------------------------------------
  /** A blob as a data: URL, for an <img> (the pages' CSP allows data: images, not blob: ones). */
  function dataUrl(blob) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(String(reader.result)); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsDataURL(blob);
    });
  }

  /** Hands a blob to the browser as a download; its object URL is revoked a moment later. */
  function saveBlob(blob, filename) {
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = filename;
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, SAVED_URL_LIFE_MS);
  }

  /** The filename a response's Content-Disposition gives, else `fallback`. */
  function filenameOf(headers, fallback) {
    var disposition = (headers && headers.get("Content-Disposition")) || "";
    var match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
    return match ? decodeURIComponent(match[1]) : fallback;
  }

  /** Fetches a file with the venue's key and saves it; `status` (an element) says how it went. */
  function download(path, key, fallbackName, status, button) {
    if (button) { button.disabled = true; }
    status.textContent = t("downloading");
    status.removeAttribute("data-code");
    return api("GET", path, { key: key, as: "blob", timeout: 60000 }).then(function (answer) {
      if (button) { button.disabled = false; }
      if (!answer.ok) {
        status.textContent = errorText(answer.code);
        status.setAttribute("data-code", answer.code);
        return false;
      }
      var name = filenameOf(answer.headers, fallbackName);
      saveBlob(answer.blob, name);
      status.textContent = t("downloaded", name);
      return true;
    });
  }

  function copyText(text) {
    var fallback = function () {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "offscreen";
      document.body.appendChild(area);
      area.select();
      var done = false;
      try { done = document.execCommand("copy"); } catch (e) { done = false; }
      area.remove();
      return done;
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      return navigator.clipboard.writeText(text).then(function () { return true; }, fallback);
    }
    return Promise.resolve(fallback());
  }

  // --- shared page parts ---------------------------------------------------------------------------
  function textElement(tag, key, className) {
    var element = document.createElement(tag);
    if (key) { element.setAttribute("data-i18n", key); element.textContent = t(key); }
    if (className) { element.className = className; }
    return element;
  }

  /** The links between the signed-in pages, and signing out (into `#portal-nav`). */
  function renderNav(current, creds) {
    var nav = $("portal-nav");
    if (!nav) { return; }
    nav.textContent = "";
    nav.setAttribute("data-i18n-label", "nav_label");
    nav.setAttribute("aria-label", t("nav_label"));
    var list = document.createElement("ul");
    NAV.forEach(function (name) {
      var item = document.createElement("li");
      var link = textElement("a", "nav_" + name);
      link.href = pageUrl(name, creds.venue_id);
      if (name === current) { link.setAttribute("aria-current", "page"); }
      item.appendChild(link);
      list.appendChild(item);
    });
    nav.appendChild(list);
    var out = textElement("button", "sign_out", "link-button sign-out");
    out.type = "button";
    out.id = "sign-out";
    out.addEventListener("click", function () {
      signOut();
      global.location.assign(PAGES.dashboard);
    });
    nav.appendChild(out);
    show(nav, true);
  }

  /** The signed-in venue, or null after putting a "sign in first" card into `main` (for page `name`). */
  function requireSignIn(name) {
    var creds = credentials();
    if (creds) { renderNav(name, creds); return creds; }
    var main = $("main");
    main.textContent = "";
    var card = document.createElement("section");
    card.className = "card need-sign-in";
    card.id = "need-sign-in";
    card.appendChild(textElement("p", "need_sign_in"));
    var link = textElement("a", "sign_in", "button");
    var wanted = requestedVenue();
    link.href = pageUrl("dashboard", wanted, { next: name });
    card.appendChild(link);
    main.appendChild(card);
    return null;
  }

  /** The poster's QR image (fetched with the key, shown as a data: URL) and its three downloads, built
   * into `section`. `venue` is {venue_id, name, rotating_qr_only}; `key` the venue's API key. */
  function renderPoster(section, venue, key) {
    section.textContent = "";
    section.setAttribute("aria-labelledby", "poster-title");
    var title = textElement("h2", "poster_title");
    title.id = "poster-title";
    section.appendChild(title);
    section.appendChild(textElement("p", "poster_hint", "hint"));
    var note = textElement("p", "poster_rotating_only", "note");
    note.id = "poster-rotating-only";
    show(note, Boolean(venue.rotating_qr_only));
    section.appendChild(note);
    var figure = document.createElement("figure");
    figure.className = "poster-figure";
    var image = document.createElement("img");
    image.id = "poster-qr";
    image.width = 240;
    image.height = 240;
    var setAlt = function () { image.alt = t("poster_alt", venue.name); };
    setAlt();
    refreshers.poster = setAlt;
    figure.appendChild(image);
    section.appendChild(figure);
    var status = textElement("p", null, "hint poster-status");
    status.id = "poster-status";
    status.setAttribute("role", "status");
    status.textContent = t("poster_loading");
    var buttons = document.createElement("div");
    buttons.className = "downloads";
    [["png", "/qr.png", "download_png"], ["svg", "/qr.svg", "download_svg"], ["pdf", "/poster.pdf", "download_pdf"]].forEach(function (entry) {
      var button = textElement("button", entry[2], "button secondary");
      button.type = "button";
      button.setAttribute("data-format", entry[0]);
      button.addEventListener("click", function () {
        var fallback = entry[0] === "pdf" ? "antoan-" + venue.venue_id + ".pdf" : "antoan-qr-" + venue.venue_id + "." + entry[0];
        download(venuePath(venue.venue_id, entry[1]), key, fallback, status, button);
      });
      buttons.appendChild(button);
    });
    section.appendChild(buttons);
    section.appendChild(status);
    return loadPosterImage(image, status, venue.venue_id, key, 0);
  }

  function loadPosterImage(image, status, venueId, key, tries) {
    return api("GET", venuePath(venueId, "/qr.png"), { key: key, as: "blob" }).then(function (answer) {
      // Another ingest process may be a moment behind a registration: a 404 is tried again, briefly.
      if (!answer.ok && (answer.code === "venue_not_found" || answer.code === "network") && tries < 4) {
        return new Promise(function (resolve) { setTimeout(resolve, 500 * (tries + 1)); }).then(function () {
          return loadPosterImage(image, status, venueId, key, tries + 1);
        });
      }
      if (!answer.ok) {
        status.textContent = errorText(answer.code);
        status.setAttribute("data-code", answer.code);
        image.hidden = true;
        return false;
      }
      return dataUrl(answer.blob).then(function (url) {
        image.src = url;
        image.setAttribute("data-loaded", "true");
        status.textContent = "";
        return true;
      });
    });
  }

  /** A copy button for the text of `source` (an element), saying how it went in `status`. */
  function copyButton(button, source, status) {
    button.addEventListener("click", function () {
      copyText(source.textContent).then(function (done) {
        status.textContent = t(done ? "copied" : "copy_failed");
        if (!done) {
          var range = document.createRange();
          range.selectNodeContents(source);
          var selection = global.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }
      });
    });
  }

  global.AntoanPortal = {
    PAGES: PAGES,
    CATEGORIES: CATEGORIES,
    VENUE_ID: VENUE_ID,
    $: $,
    show: show,
    start: start,
    kept: kept,
    isKept: isKept,
    keep: keep,
    forget: forget,
    session: session,
    signIn: signIn,
    signOut: signOut,
    rename: rename,
    credentials: credentials,
    requestedVenue: requestedVenue,
    pageUrl: pageUrl,
    api: api,
    venuePath: venuePath,
    checkKey: checkKey,
    errorText: errorText,
    renderRisk: renderRisk,
    capacityOf: capacityOf,
    areas: areas,
    areaText: areaText,
    dataUrl: dataUrl,
    saveBlob: saveBlob,
    filenameOf: filenameOf,
    download: download,
    copyButton: copyButton,
    renderNav: renderNav,
    requireSignIn: requireSignIn,
    renderPoster: renderPoster
  };
})(self);
