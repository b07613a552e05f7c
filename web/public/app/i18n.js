/* Language for Antoan's pages: Vietnamese first, an English switch remembered on the device (the same
 * choice on every page of the origin, the public map's included: they share the "antoan.lang" key).
 *
 * A page gives its texts per language; the words every page shares (risk levels, venue categories, symptoms) are
 * merged in. Elements are translated by attribute: data-i18n (text), data-i18n-label (aria-label),
 * data-i18n-placeholder, data-i18n-title; `.lang button[data-lang]` are the switch.
 * Plain script, no build step, no dependency; works in a page and (without the DOM parts) in a worker. */
(function (global) {
  "use strict";

  var LANG_KEY = "antoan.lang";
  var LANGS = ["vi", "en"];

  var COMMON = {
    vi: {
      level: { 1: "Nguy cơ thấp (bình thường mới)", 2: "Nguy cơ trung bình", 3: "Nguy cơ cao", 4: "Nguy cơ rất cao" },
      level_short: "Cấp độ",
      unknown_level: "Chưa có đánh giá nguy cơ",
      category: {
        office: "Văn phòng", hospital: "Bệnh viện", school: "Trường học", company: "Công ty",
        supermarket: "Siêu thị", market: "Chợ", hotel: "Khách sạn", restaurant: "Nhà hàng",
        cafe: "Quán cà phê", shop: "Cửa hàng", factory: "Nhà máy", government: "Cơ quan nhà nước",
        place_of_worship: "Cơ sở tôn giáo", public_transport: "Phương tiện giao thông công cộng", other: "Khác"
      },
      // antoan_shared.events.Symptom (/app/symptoms.js lists them)
      symptom: { fever: "Sốt", cough: "Ho", difficulty_breathing: "Khó thở", pneumonia: "Viêm phổi", sore_throat: "Đau họng", fatigue: "Mệt mỏi" },
      locale: "vi-VN"
    },
    en: {
      level: { 1: "Low risk (new normal)", 2: "Medium risk", 3: "High risk", 4: "Very high risk" },
      level_short: "Level",
      unknown_level: "Risk not assessed yet",
      category: {
        office: "Office", hospital: "Hospital", school: "School", company: "Company",
        supermarket: "Supermarket", market: "Market", hotel: "Hotel", restaurant: "Restaurant",
        cafe: "Café", shop: "Shop", factory: "Factory", government: "Government office",
        place_of_worship: "Place of worship", public_transport: "Public transport", other: "Other"
      },
      symptom: { fever: "Fever", cough: "Cough", difficulty_breathing: "Difficulty breathing", pneumonia: "Pneumonia", sore_throat: "Sore throat", fatigue: "Fatigue" },
      locale: "en-GB"
    }
  };

  function storedLanguage() {
    try { return global.localStorage.getItem(LANG_KEY) === "en" ? "en" : "vi"; } catch (e) { return "vi"; }
  }

  function merged(lang, texts) {
    var out = {};
    Object.keys(COMMON[lang]).forEach(function (key) { out[key] = COMMON[lang][key]; });
    Object.keys(texts[lang] || {}).forEach(function (key) { out[key] = texts[lang][key]; });
    return out;
  }

  /** Translator for a page: `texts` is {vi: {...}, en: {...}}; `onChange(lang)` runs after each switch
   * (and on `apply()`), for what the page renders itself. */
  function create(texts, onChange) {
    var lang = storedLanguage();
    var dictionaries = { vi: merged("vi", texts), en: merged("en", texts) };

    var api = {
      lang: function () { return lang; },
      /** The text under `key` in the current language; a function is called with the extra arguments. */
      t: function (key) {
        var value = dictionaries[lang][key];
        if (typeof value === "function") { return value.apply(null, Array.prototype.slice.call(arguments, 1)); }
        return value == null ? key : value;
      },
      /** The current language's table (for nested tables such as `level`). */
      table: function () { return dictionaries[lang]; },
      /** Local date and time, as people read them in the current language. */
      time: function (value, options) {
        var date = value instanceof Date ? value : new Date(value);
        if (isNaN(date.getTime())) { return ""; }
        return date.toLocaleString(dictionaries[lang].locale, options || { dateStyle: "short", timeStyle: "short" });
      },
      apply: function () {
        var doc = global.document;
        doc.documentElement.lang = lang;
        if (dictionaries[lang].page_title) { doc.title = dictionaries[lang].page_title; }
        translate(doc, "data-i18n", function (element, text) { element.textContent = text; });
        translate(doc, "data-i18n-label", function (element, text) { element.setAttribute("aria-label", text); });
        translate(doc, "data-i18n-placeholder", function (element, text) { element.setAttribute("placeholder", text); });
        translate(doc, "data-i18n-title", function (element, text) { element.setAttribute("title", text); });
        doc.querySelectorAll(".lang button[data-lang]").forEach(function (button) {
          button.setAttribute("aria-pressed", String(button.getAttribute("data-lang") === lang));
        });
        if (onChange) { onChange(lang); }
      },
      set: function (next) {
        lang = LANGS.indexOf(next) >= 0 ? next : "vi";
        try { global.localStorage.setItem(LANG_KEY, lang); } catch (e) { /* private mode: this visit only */ }
        api.apply();
      }
    };

    function translate(doc, attribute, put) {
      doc.querySelectorAll("[" + attribute + "]").forEach(function (element) {
        var text = dictionaries[lang][element.getAttribute(attribute)];
        if (typeof text === "string") { put(element, text); }
      });
    }

    if (global.document) {
      global.document.querySelectorAll(".lang button[data-lang]").forEach(function (button) {
        button.addEventListener("click", function () { api.set(button.getAttribute("data-lang")); });
      });
    }
    return api;
  }

  global.AntoanI18n = { create: create, LANG_KEY: LANG_KEY };
})(self);
