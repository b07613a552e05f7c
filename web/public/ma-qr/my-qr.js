/* "My QR" (issue 14 item 3; SPEC §3.1): a person without the app makes their personal QR code on their own
 * phone, in the Decision 1405/QĐ-BTTTT layout that ingest reads (`SoGiayTo|HoTen|NgaySinh|LoaiDinhDanh|QID|EXT`,
 * antoan_ingest.domain.personal_qr), and shows it to venue staff, whose scanner checks them in.
 *
 * Nothing typed here leaves the phone: the page sends no request with it (the code is drawn on a canvas by the
 * vendored qrcode-generator), and keeps it on the device (localStorage) only when the person ticks the box;
 * "forget" removes it. A service worker (sw.js) opens the page, and so the kept code, without a network.
 * Plain script, no build step, nothing from beyond this origin. */
(function (global) {
  "use strict";

  var KEPT_KEY = "antoan.myqr";  // localStorage, opt-in: the fields below
  var QUIET_ZONE = 4;            // modules of white around the code, as the QR standard asks
  var MODULE_PX = 8;             // canvas pixels per module; CSS scales the canvas to the screen
  // A document number as ingest reads one (antoan_ingest.domain.identity), checked before the code is made so
  // that staff never scan a code ingest must refuse; ingest stays the judge.
  var DOCUMENT_RULES = {
    CCCD: /^[0-9]{12}$/,
    CMND: /^[0-9]{9}$/,
    HC: /^[A-Z](?=[A-Z0-9]*[0-9])[A-Z0-9]{5,11}$/,
    SDT: /^(0|\+?84)[35789][0-9]{8}$/
  };

  var TEXT = {
    vi: {
      page_title: "Antoan — Mã QR cá nhân",
      title: "Mã QR cá nhân",
      form_title: "Thông tin trên mã QR",
      privacy: "Mã QR được tạo ngay trên điện thoại này: thông tin bạn nhập không được gửi đi đâu. Nhân viên tại cửa quét mã để khai báo vào/ra cho bạn.",
      id_type_label: "Loại giấy tờ",
      id_type_CCCD: "Căn cước công dân (CCCD, 12 số)",
      id_type_CMND: "Chứng minh nhân dân (CMND, 9 số)",
      id_type_HC: "Hộ chiếu",
      id_type_SDT: "Số điện thoại (khi không có giấy tờ)",
      id_type_hint: "Người chưa có giấy tờ (trẻ em) dùng số điện thoại của mình hoặc của người giám hộ.",
      document_label: "Số giấy tờ",
      name_label: "Họ và tên",
      birth_label: "Ngày sinh",
      more_summary: "Thông tin thêm (không bắt buộc)",
      qid_label: "Mã QID",
      qid_hint: "Mã định danh trên mã QR cũ của bạn (ứng dụng khác đã cấp), nếu có.",
      ext_label: "Ghi chú thêm",
      ext_hint: "Ví dụ: số điện thoại liên hệ. Được đọc cùng mã QR.",
      keep_label: "Lưu trên điện thoại này để lần sau mở là có mã",
      make: "Tạo mã QR",
      result_title: "Đưa mã này cho nhân viên quét",
      qr_label: function (name) { return "Mã QR cá nhân của " + name; },
      id_type_short: { CCCD: "CCCD", CMND: "CMND", HC: "Hộ chiếu", SDT: "Số điện thoại" },
      document_shown: function (type, tail) { return type + " · số kết thúc bằng " + tail; },
      brightness: "Tăng độ sáng màn hình nếu máy quét chưa đọc được.",
      kept: "Đã lưu trên điện thoại này.",
      not_kept: "Không lưu trên điện thoại: mở lại trang sẽ phải nhập lại.",
      forgotten: "Đã xoá khỏi điện thoại này.",
      edit: "Sửa thông tin",
      forget: "Xoá khỏi điện thoại này",
      errors: {
        document_required: "Hãy nhập số giấy tờ.",
        document_CCCD: "Số CCCD gồm 12 chữ số.",
        document_CMND: "Số CMND gồm 9 chữ số.",
        document_HC: "Số hộ chiếu bắt đầu bằng chữ cái, có chữ số, dài 6–12 ký tự (ví dụ C1234567).",
        document_SDT: "Số điện thoại di động gồm 10 chữ số, bắt đầu bằng 03, 05, 07, 08 hoặc 09.",
        name_required: "Hãy nhập họ và tên.",
        birth_required: "Hãy chọn ngày sinh.",
        birth_future: "Ngày sinh không thể sau hôm nay.",
        too_long: "Thông tin quá dài để đặt vào một mã QR. Hãy rút gọn phần ghi chú."
      }
    },
    en: {
      page_title: "Antoan — My QR code",
      title: "My QR code",
      form_title: "What your QR code holds",
      privacy: "The QR code is made on this phone: nothing you type is sent anywhere. Staff at the door scan it to check you in or out.",
      id_type_label: "Document type",
      id_type_CCCD: "Citizen ID card (CCCD, 12 digits)",
      id_type_CMND: "Old ID card (CMND, 9 digits)",
      id_type_HC: "Passport",
      id_type_SDT: "Phone number (no document)",
      id_type_hint: "Someone without a document (a child) uses their own or their guardian's phone number.",
      document_label: "Document number",
      name_label: "Full name",
      birth_label: "Date of birth",
      more_summary: "More details (optional)",
      qid_label: "QID",
      qid_hint: "The identifier on your earlier QR code (issued by another app), if you have one.",
      ext_label: "Extra note",
      ext_hint: "For example a contact phone number. It is read with the QR code.",
      keep_label: "Keep it on this phone so that it is here next time",
      make: "Make my QR code",
      result_title: "Show this code to the staff",
      qr_label: function (name) { return "Personal QR code of " + name; },
      id_type_short: { CCCD: "CCCD", CMND: "CMND", HC: "Passport", SDT: "Phone" },
      document_shown: function (type, tail) { return type + " · number ending in " + tail; },
      brightness: "Turn the screen brightness up if the scanner cannot read it.",
      kept: "Kept on this phone.",
      not_kept: "Not kept on this phone: you will type it again next time.",
      forgotten: "Removed from this phone.",
      edit: "Change details",
      forget: "Remove from this phone",
      errors: {
        document_required: "Type your document number.",
        document_CCCD: "A CCCD number has 12 digits.",
        document_CMND: "A CMND number has 9 digits.",
        document_HC: "A passport number starts with a letter, has digits and is 6–12 characters long (e.g. C1234567).",
        document_SDT: "A mobile number has 10 digits and starts with 03, 05, 07, 08 or 09.",
        name_required: "Type your full name.",
        birth_required: "Choose your date of birth.",
        birth_future: "The date of birth cannot be after today.",
        too_long: "Too much to fit in one QR code. Shorten the note."
      }
    }
  };

  var doc = global.document;
  function $(id) { return doc.getElementById(id); }
  var shown = null;  // the fields of the code on screen
  var i18n = global.AntoanI18n.create(TEXT, function () { if (shown) { render(shown); } });

  // --- the Decision 1405 text ----------------------------------------------------------------------
  /** A field as the layout can carry it: no separator, no line break, single spaces. */
  function clean(value) { return String(value || "").replace(/[|\r\n\t]+/g, " ").replace(/\s+/g, " ").trim(); }
  function compactDocument(value) { return clean(value).replace(/[\s.\-()]/g, "").toUpperCase(); }
  /** yyyy-mm-dd (the date input) as dd/mm/yyyy (the layout's). */
  function birthText(iso) { var p = iso.split("-"); return p[2] + "/" + p[1] + "/" + p[0]; }

  function payload(fields) {
    return [fields.document_number, fields.full_name, birthText(fields.birth_date), fields.id_type, fields.qid, fields.ext].join("|");
  }

  // --- the form ------------------------------------------------------------------------------------
  function read() {
    return {
      id_type: $("id-type").value,
      document_number: compactDocument($("document-number").value),
      full_name: clean($("full-name").value),
      birth_date: $("birth-date").value,
      qid: clean($("qid").value),
      ext: clean($("ext").value)
    };
  }

  function fill(fields) {
    $("id-type").value = DOCUMENT_RULES[fields.id_type] ? fields.id_type : "CCCD";
    $("document-number").value = fields.document_number || "";
    $("full-name").value = fields.full_name || "";
    $("birth-date").value = fields.birth_date || "";
    $("qid").value = fields.qid || "";
    $("ext").value = fields.ext || "";
  }

  function fieldError(input, box, code) {
    input.setAttribute("aria-invalid", code ? "true" : "false");
    box.hidden = !code;
    box.textContent = code ? i18n.table().errors[code] : "";
  }

  /** The first problem of each field, shown under it; true when there is none. */
  function check(fields) {
    var documentCode = !fields.document_number ? "document_required"
      : DOCUMENT_RULES[fields.id_type].test(fields.document_number) ? null : "document_" + fields.id_type;
    var now = new Date();  // the phone's own day, not UTC's
    var today = [now.getFullYear(), String(now.getMonth() + 1).padStart(2, "0"), String(now.getDate()).padStart(2, "0")].join("-");
    var birthCode = !fields.birth_date ? "birth_required" : fields.birth_date > today ? "birth_future" : null;
    fieldError($("document-number"), $("document-error"), documentCode);
    var nameCode = fields.full_name ? null : "name_required";
    fieldError($("full-name"), $("name-error"), nameCode);
    fieldError($("birth-date"), $("birth-error"), birthCode);
    fieldError($("ext"), $("ext-error"), null);
    var first = [[documentCode, "document-number"], [nameCode, "full-name"], [birthCode, "birth-date"]]
      .filter(function (pair) { return pair[0]; })[0];
    if (first) { $(first[1]).focus(); }
    return !first;
  }

  // --- the code ------------------------------------------------------------------------------------
  /** Draws the code on the canvas; false if the text does not fit in a QR code. */
  function draw(text) {
    var code;
    // Vietnamese names are bytes of UTF-8 in the code, as scanners (and ingest) read them; the library's default
    // keeps only each character's low byte.
    global.qrcode.stringToBytes = global.qrcode.stringToBytesFuncs["UTF-8"];
    try {
      code = global.qrcode(0, "M");  // the smallest version that holds the text, medium error correction
      code.addData(text, "Byte");
      code.make();
    } catch (e) {
      return false;
    }
    var modules = code.getModuleCount();
    var size = (modules + 2 * QUIET_ZONE) * MODULE_PX;
    var canvas = $("qr");
    canvas.width = size;
    canvas.height = size;
    var context = canvas.getContext("2d");
    context.fillStyle = "#fff";
    context.fillRect(0, 0, size, size);
    context.fillStyle = "#000";
    for (var row = 0; row < modules; row += 1) {
      for (var col = 0; col < modules; col += 1) {
        if (code.isDark(row, col)) {
          context.fillRect((col + QUIET_ZONE) * MODULE_PX, (row + QUIET_ZONE) * MODULE_PX, MODULE_PX, MODULE_PX);
        }
      }
    }
    canvas.setAttribute("data-payload-length", String(text.length));
    return true;
  }

  function render(fields) {
    var tail = fields.document_number.slice(-3);
    $("qr").setAttribute("aria-label", i18n.t("qr_label", fields.full_name));
    $("result-name").textContent = fields.full_name;
    $("result-document").textContent = i18n.t("document_shown", i18n.table().id_type_short[fields.id_type], tail);
    $("forget").hidden = kept() === null;
    if ($("kept-note").getAttribute("data-note")) { $("kept-note").textContent = i18n.t($("kept-note").getAttribute("data-note")); }
  }

  function show(fields, note) {
    if (!draw(payload(fields))) {
      doc.querySelector(".more").open = true;
      fieldError($("ext"), $("ext-error"), "too_long");
      $("ext").focus();
      return;
    }
    shown = fields;
    $("kept-note").setAttribute("data-note", note || "");
    $("kept-note").textContent = "";
    render(fields);
    $("person").hidden = true;
    $("result").hidden = false;
    doc.body.setAttribute("data-state", "code");
    $("result-title").setAttribute("tabindex", "-1");
    $("result-title").focus();
  }

  // --- keeping it on the device (opt-in) ---------------------------------------------------------------
  function kept() {
    try {
      var value = JSON.parse(global.localStorage.getItem(KEPT_KEY) || "null");
      return value && typeof value.document_number === "string" && typeof value.birth_date === "string" ? value : null;
    } catch (e) { return null; }
  }
  function keep(fields) {
    try { global.localStorage.setItem(KEPT_KEY, JSON.stringify(fields)); return true; } catch (e) { return false; }
  }
  function forget() {
    try { global.localStorage.removeItem(KEPT_KEY); } catch (e) { /* nothing was kept */ }
  }

  $("person").addEventListener("submit", function (event) {
    event.preventDefault();
    var fields = read();
    if (!check(fields)) { return; }
    var wantsKeeping = $("keep").checked;
    if (wantsKeeping) { keep(fields); } else { forget(); }
    show(fields, wantsKeeping ? "kept" : "not_kept");
  });

  $("edit").addEventListener("click", function () {
    fill(shown || read());
    $("keep").checked = kept() !== null;
    $("result").hidden = true;
    $("person").hidden = false;
    doc.body.setAttribute("data-state", "form");
    $("document-number").focus();
  });

  $("forget").addEventListener("click", function () {
    forget();
    $("keep").checked = false;
    $("kept-note").setAttribute("data-note", "forgotten");
    render(shown);
    $("edit").focus();
  });

  if ("serviceWorker" in global.navigator) {
    global.navigator.serviceWorker.register("/ma-qr/sw.js", { scope: "/ma-qr/" }).catch(function () { /* online only, then */ });
  }
  i18n.apply();
  var saved = kept();
  if (saved) {
    fill(saved);
    $("keep").checked = true;
    show(saved, "");
  }
})(self);
