/* The declaration forms: /khai-bao/ (SPEC §3.5, §4.1; ingest's POST /v1/declarations).
 *
 * One page, four forms: a kind is chosen from the list, or opened by its own address (#noi-dia domestic,
 * #cach-ly the quarantine daily update, #di-chuyen domestic move, #nhap-canh entry), which a quarantined
 * person can bookmark. A declaration may be for someone else (a child, an elderly relative): their number is
 * `person_id`, the declarer's `declared_by`. What is typed is checked here first (rules.js) and then by
 * ingest, whose refusals are shown under the field they are about, in words, never as the server wrote them.
 *
 * Identifiers travel in the request body only: never in an address, a title, the console or a log. They are
 * kept on the phone only when the person ticks "remember" (the own number under the key the check-in page
 * uses too, the people declared for under one of this page's own), and the confirmation shows them masked.
 * Plain script, no build step, nothing from beyond this origin. */
(function () {
  "use strict";

  var rules = window.AntoanDeclarationRules;
  var PERSON_KEY = "antoan.person";              // the person's own number, shared with the check-in page
  var HOUSEHOLD_KEY = "antoan.household";        // the check-in page's people without a phone (read only)
  var OTHERS_KEY = "antoan.declare.others";      // people this phone declared for
  var MAX_REMEMBERED = 10;
  var REQUEST_TIMEOUT_MS = 15000;
  // antoan_shared.events.Symptom, in the order the forms list them.
  var SYMPTOMS = ["fever", "cough", "difficulty_breathing", "pneumonia", "sore_throat", "fatigue"];
  var SLUGS = { "noi-dia": "domestic", "cach-ly": "quarantine_daily", "di-chuyen": "domestic_move", "nhap-canh": "entry" };
  var MAX_LINES = 50;

  // Every field a form may send, by its path in the request body (as ingest's 422 `loc` names it): where it
  // is typed, where its error shows, what it takes (ingest's api/schemas.py), and its name on the confirmation.
  var CONTACT = ["contact.full_name", "contact.birth_date", "contact.phone", "contact.address"];
  var FIELDS = {
    person_id: { input: "person-id", check: "person", required: true, label: "summary_person" },
    declared_by: { input: "declared-by", check: "person", required: true, label: "summary_declarant" },
    temperature_c: { input: "temperature", check: "temperature", required: true, label: "temperature" },
    "contact.full_name": { input: "full-name", max: 200, label: "full_name" },
    "contact.birth_date": { input: "birth-date", check: "birth", label: "birth_date" },
    "contact.phone": { input: "contact-phone", max: 32, label: "contact_phone" },
    "contact.address": { input: "address", max: 500, label: "address" },
    nationality: { input: "nationality", required: true, min: 2, max: 64, label: "nationality", trip: true },
    flight_or_vehicle: { input: "flight", required: true, max: 64, label: "flight_or_vehicle", trip: true },
    seat: { input: "seat", max: 16, label: "seat" },
    origin: { input: "origin", required: true, max: 128, label: "origin", trip: true },
    border_gate: { input: "border-gate", required: true, max: 128, label: "border_gate", trip: true },
    arrival_date: { input: "arrival-date", check: "trip", required: true, label: "arrival_date", trip: true },
    travel_history_14d: { input: "travel-history", check: "lines", max: 128, label: "travel_history", trip: true },
    quarantine_address: { input: "quarantine-address", required: true, max: 500, label: "quarantine_address" },
    vehicle: { input: "vehicle", required: true, max: 64, label: "vehicle", trip: true },
    route_from: { input: "route-from", required: true, max: 200, label: "route_from", trip: true },
    route_to: { input: "route-to", required: true, max: 200, label: "route_to", trip: true },
    departure_gate: { input: "departure-gate", max: 128, label: "departure_gate", trip: true },
    arrival_gate: { input: "arrival-gate", max: 128, label: "arrival_gate", trip: true },
    travel_date: { input: "travel-date", check: "trip", required: true, label: "travel_date", trip: true },
    symptoms: { input: "symptom-fever", error: "symptoms-error", check: "symptoms", label: "symptoms_label" },
    contact_with_case: { input: "contact-case-yes", error: "contact-case-error", check: "yesno", required: true, label: "contact_with_case" },
    contact_with_suspected_case: {
      input: "contact-suspected-yes", error: "contact-suspected-error", check: "yesno", required: true, label: "contact_with_suspected_case"
    },
    places_visited: { input: "places", check: "lines", max: 200, label: "places_visited" }
  };
  // The fields of each kind, in the order they are on the form (who it is for comes first in all).
  var KIND_FIELDS = {
    domestic: CONTACT.concat(["symptoms", "contact_with_case", "contact_with_suspected_case", "places_visited"]),
    entry: CONTACT.concat(["nationality", "flight_or_vehicle", "seat", "origin", "border_gate", "arrival_date",
      "travel_history_14d", "quarantine_address", "symptoms"]),
    domestic_move: CONTACT.concat(["vehicle", "route_from", "route_to", "departure_gate", "arrival_gate", "travel_date", "symptoms"]),
    quarantine_daily: ["temperature_c", "symptoms"]
  };
  // Ingest's own refusals (400) that are about one field, and what they say there.
  var REFUSED_FIELDS = {
    invalid_person_id: ["person_id", "person_id"],
    invalid_declared_by: ["declared_by", "declared_by"],
    arrival_date_out_of_range: ["arrival_date", "trip_range"],
    travel_date_out_of_range: ["travel_date", "trip_range"],
    birth_date_out_of_range: ["contact.birth_date", "birth_range"]
  };

  var page = {
    kind: null,          // the form open, or null for the list of kinds
    errors: {},          // path -> [text key, arguments…] of the invalid key, shown under the field
    formError: null,     // {key, code}: a refusal about nothing in particular
    attempt: null,       // {body, id}: the last body sent and its client_event_id, reused for a retry of it
    busy: false,
    done: null           // {kind, body, answer, at}: the confirmation
  };

  var i18n = window.AntoanI18n.create(window.AntoanDeclarationTexts, render);
  var t = i18n.t;
  function table() { return i18n.table(); }
  function $(id) { return document.getElementById(id); }
  function show(element, visible) { element.hidden = !visible; }

  // --- remembered on the phone (only when asked) -----------------------------------------------------------
  function stored(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function store(key, value) {
    try {
      if (value == null) { window.localStorage.removeItem(key); } else { window.localStorage.setItem(key, value); }
    } catch (e) { /* private mode: nothing is remembered */ }
  }
  function storedList(key) {
    try {
      var list = JSON.parse(stored(key) || "[]");
      return Array.isArray(list) ? list.filter(function (id) { return typeof id === "string" && id; }) : [];
    } catch (e) { return []; }
  }
  function rememberedOthers() {
    var own = stored(PERSON_KEY);
    var all = [];
    storedList(OTHERS_KEY).concat(storedList(HOUSEHOLD_KEY)).forEach(function (id) {
      var known = all.some(function (other) { return rules.samePerson(other, id); });
      if (!known && !(own && rules.samePerson(own, id))) { all.push(id); }
    });
    return all.slice(0, MAX_REMEMBERED);
  }
  function remember(body) {
    var own = body.declared_by || body.person_id;
    store(PERSON_KEY, own);
    if (body.declared_by) {
      var others = storedList(OTHERS_KEY).filter(function (id) { return !rules.samePerson(id, body.person_id); });
      store(OTHERS_KEY, JSON.stringify([body.person_id].concat(others).slice(0, MAX_REMEMBERED)));
    }
  }
  function forget() {
    [PERSON_KEY, OTHERS_KEY, HOUSEHOLD_KEY].forEach(function (key) { store(key, null); });
    $("remember").checked = false;
    ["person-id", "declared-by"].forEach(function (id) { $(id).value = ""; });
    render();
    $("person-id").focus();
  }

  /** What fills the number fields for the person choosing who the declaration is for. */
  function prefill() {
    var own = stored(PERSON_KEY);
    if (!own) { return; }
    if (forOther()) {
      if (!$("declared-by").value) { $("declared-by").value = own; }
      if ($("person-id").value && rules.samePerson($("person-id").value, own)) { $("person-id").value = ""; }
    } else if (!$("person-id").value) {
      $("person-id").value = own;
    }
  }

  // --- the form's values -----------------------------------------------------------------------------------
  function forOther() { return $("for-other").checked; }

  /** The paths this form sends, in order. */
  function activeFields() {
    return ["person_id"].concat(forOther() ? ["declared_by"] : [], KIND_FIELDS[page.kind] || []);
  }

  function yesNo(path) {
    var name = path === "contact_with_case" ? "contact_with_case" : "contact_with_suspected_case";
    var chosen = document.querySelector("input[name='" + name + "']:checked");
    return chosen ? chosen.value === "yes" : null;
  }

  /** A field's value as the request body takes it; undefined when there is nothing to send. */
  function valueOf(path) {
    var field = FIELDS[path];
    if (field.check === "symptoms") {
      return SYMPTOMS.filter(function (code) { return $("symptom-" + code).checked; });
    }
    if (field.check === "yesno") { return yesNo(path); }
    var raw = $(field.input).value.trim();
    if (field.check === "lines") { return rules.lines(raw); }
    if (field.check === "temperature") { return rules.parseTemperature(raw); }
    return raw === "" ? undefined : raw;
  }

  /** [text key, arguments…] saying what is wrong with a field, or null. */
  function problemOf(path) {
    var field = FIELDS[path];
    var input = $(field.input);
    var raw = field.check === "yesno" || field.check === "symptoms" ? "" : input.value.trim();
    if (field.check === "yesno") { return yesNo(path) === null ? ["choose"] : null; }
    if (field.check === "symptoms") { return null; }
    if (raw === "") { return field.required ? [field.check === "trip" ? "date_format" : "required"] : null; }
    if (field.check === "person") {
      if (rules.personIdKind(raw) === null) { return [path]; }
      if (path === "declared_by" && rules.samePerson(raw, $("person-id").value)) { return ["same_person"]; }
      return null;
    }
    if (field.check === "temperature") {
      var value = rules.parseTemperature(raw);
      if (value === null) { return ["temperature_format"]; }
      return rules.temperatureInRange(value) ? null : ["temperature_range"];
    }
    if (field.check === "trip" || field.check === "birth") {
      var today = rules.today();
      var bounds = field.check === "trip" ? rules.tripDays(today) : rules.birthDays(today);
      // A browser without a date picker leaves a text box: a day it cannot read is no day.
      return rules.dayWithin(raw, bounds) ? null : [input.validity && input.validity.badInput ? "date_format" : field.check + "_range"];
    }
    if (field.check === "lines") {
      var lines = rules.lines(raw);
      if (lines.length > MAX_LINES) { return ["too_many_lines", MAX_LINES]; }
      for (var i = 0; i < lines.length; i++) {
        if (lines[i].length > field.max) { return ["line_too_long", i + 1, field.max]; }
      }
      return null;
    }
    if (field.min && raw.length < field.min) { return ["too_short", field.min]; }
    if (field.max && raw.length > field.max) { return ["too_long", field.max]; }
    return null;
  }

  function requestBody() {
    var body = { kind: page.kind };
    activeFields().forEach(function (path) {
      var value = valueOf(path);
      if (value === undefined || value === null) { return; }
      var parts = path.split(".");
      if (parts.length === 2) {
        body[parts[0]] = body[parts[0]] || {};
        body[parts[0]][parts[1]] = value;
      } else {
        body[path] = value;
      }
    });
    return body;
  }

  // --- sending ---------------------------------------------------------------------------------------------
  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") { return window.crypto.randomUUID(); }
    var bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  /** POSTs the declaration; resolves {status, body}, status 0 when there was no answer. Never rejects. */
  function post(body) {
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
    return window.fetch("/v1/declarations", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      signal: controller.signal
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (json) { return { status: response.status, body: json }; });
    }, function () {
      return { status: 0, body: null };
    }).then(function (answer) {
      clearTimeout(timer);
      return answer;
    });
  }

  function submit(event) {
    event.preventDefault();
    if (page.busy || !page.kind) { return; }
    page.errors = {};
    page.formError = null;
    activeFields().forEach(function (path) {
      var problem = problemOf(path);
      if (problem) { page.errors[path] = problem; }
    });
    if (Object.keys(page.errors).length) { renderErrors(true); return; }
    var body = requestBody();
    var sameAsLast = page.attempt && page.attempt.body === JSON.stringify(body);
    // A retry of the same declaration (no answer the first time) is the same event to ingest; a changed one is new.
    var id = sameAsLast ? page.attempt.id : uuid();
    page.attempt = { body: JSON.stringify(body), id: id };
    body.client_event_id = id;
    setBusy(true);
    post(body).then(function (answer) {
      setBusy(false);
      if (answer.status === 202 && answer.body && answer.body.event_id) {
        if ($("remember").checked) { remember(body); }
        page.attempt = null;
        page.done = { kind: page.kind, body: body, answer: answer.body, at: new Date() };
        render();
        $("done-title").focus();
        window.scrollTo(0, 0);
        return;
      }
      refused(answer);
    });
  }

  /** Ingest's refusal, put where it belongs: under the field it is about, or above the form. */
  function refused(answer) {
    var error = answer.body && answer.body.error && typeof answer.body.error.code === "string" ? answer.body.error : null;
    var code = error ? error.code : "http_" + answer.status;
    var active = activeFields();
    if (REFUSED_FIELDS[code] && active.indexOf(REFUSED_FIELDS[code][0]) >= 0) {
      page.errors[REFUSED_FIELDS[code][0]] = [REFUSED_FIELDS[code][1]];
    } else if (code === "invalid_request" && Array.isArray(error.detail)) {
      error.detail.forEach(function (problem) {
        var where = fieldOfProblem(problem, active);
        if (where) { page.errors[where.path] = messageOfProblem(where, problem); }
      });
    }
    if (!Object.keys(page.errors).length) {
      var retry = answer.status === 0 || answer.status === 408 || answer.status >= 500;
      var key = retry ? "not_sent" : (table().errors[code] ? code : "other");
      page.formError = { key: key, code: retry ? "" : code };
    }
    renderErrors(true);
  }

  /** The field a 422 problem's `loc` (["body", kind, "contact", "birth_date"], […, "places_visited", 3]) names. */
  function fieldOfProblem(problem, active) {
    var loc = Array.isArray(problem && problem.loc) ? problem.loc.slice(2) : [];
    var names = loc.filter(function (part) { return typeof part === "string"; });
    var index = loc.filter(function (part) { return typeof part === "number"; })[0];
    var path = names.join(".");
    return active.indexOf(path) >= 0 ? { path: path, index: index } : null;
  }

  function messageOfProblem(where, problem) {
    var field = FIELDS[where.path];
    var type = String(problem.type || "");
    if (type === "missing") { return [field.check === "yesno" ? "choose" : "required"]; }
    if (field.check === "person") { return [where.path]; }
    if (field.check === "temperature") { return [/^(greater|less)_than/.test(type) ? "temperature_range" : "temperature_format"]; }
    if (field.check === "trip" || field.check === "birth") { return ["date_format"]; }
    if (type === "string_too_short") { return ["too_short", field.min || 1]; }
    if (type === "string_too_long") {
      return where.index === undefined ? ["too_long", field.max] : ["line_too_long", where.index + 1, field.max];
    }
    if (type === "too_long") { return ["too_many_lines", MAX_LINES]; }
    return ["other"];
  }

  function setBusy(busy) {
    page.busy = busy;
    $("submit").disabled = busy;
    $("sending").textContent = busy ? t("sending") : "";
  }

  // --- moving between the list, a form and the confirmation -----------------------------------------------
  function kindOfAddress() { return SLUGS[window.location.hash.replace(/^#/, "")] || null; }

  function route() {
    var kind = kindOfAddress();
    var changed = kind !== page.kind;
    page.kind = kind;
    page.done = null;
    if (changed) {
      page.errors = {};
      page.formError = null;
      page.attempt = null;
    }
    prefill();
    render();
    if (kind) { $("form-title").focus(); } else { window.scrollTo(0, 0); }
  }

  /** "Declare again": the same kind for someone else; the trip (flight, route, dates) stays, as a family
   * travelling together shares it; who it is and their health are asked afresh. */
  function another() {
    var last = page.done;
    page.done = null;
    page.errors = {};
    page.formError = null;
    $("for-other").checked = true;
    $("declared-by").value = last.body.declared_by || last.body.person_id;
    $("person-id").value = "";
    Object.keys(FIELDS).forEach(function (path) {
      var field = FIELDS[path];
      if (field.trip || path === "person_id" || path === "declared_by") { return; }
      if (field.check === "symptoms") { SYMPTOMS.forEach(function (code) { $("symptom-" + code).checked = false; }); return; }
      if (field.check === "yesno") {
        document.querySelectorAll("input[name='" + path + "']").forEach(function (radio) { radio.checked = false; });
        return;
      }
      $(field.input).value = "";
    });
    render();
    $("person-id").focus();
  }

  // --- rendering -------------------------------------------------------------------------------------------
  function render() {
    var view = page.done ? "done" : page.kind ? "form" : "choose";
    document.body.setAttribute("data-view", view);
    // A kind's own title, for the bookmark a quarantined person keeps (never anything typed).
    document.title = page.kind ? "Antoan — " + table().kind[page.kind] : t("page_title");
    show($("main"), view !== "done");
    show($("choose"), view === "choose");
    show($("declaration"), view === "form");
    show($("done"), view === "done");
    renderKinds();
    renderForm();
    renderErrors(false);
    renderDone();
  }

  function renderKinds() {
    document.querySelectorAll(".kind-card").forEach(function (card) {
      var kind = card.getAttribute("data-kind");
      card.querySelector(".kind-name").textContent = table().kind[kind];
      card.querySelector(".kind-hint").textContent = table().kind_hint[kind];
    });
  }

  function renderForm() {
    var kind = page.kind || "domestic";
    var other = forOther();
    $("declaration").setAttribute("data-kind", kind);
    $("form-title").textContent = table().kind[kind];
    $("form-title").setAttribute("tabindex", "-1");
    document.querySelectorAll("#declaration [data-kinds]").forEach(function (element) {
      show(element, element.getAttribute("data-kinds").split(" ").indexOf(kind) >= 0);
    });
    document.querySelectorAll("#declaration [data-for='other']").forEach(function (element) { show(element, other); });
    var entry = kind === "entry" ? "entry_" : "";
    $("person-label").textContent = t("person_label_" + entry + (other ? "other" : "self"));
    $("person-hint").textContent = other ? t("person_hint_other") + " " + t("person_hint") : t("person_hint");
    $("person-id").setAttribute("autocomplete", other ? "off" : "tel");
    $("contact-legend").textContent = t(other ? "contact_legend_other" : "contact_legend");
    $("symptoms-legend").textContent = table().symptoms_legend[kind];
    renderSymptoms();
    renderRemembered(other);
  }

  function renderSymptoms() {
    var container = $("symptoms");
    if (!container.childElementCount) {
      SYMPTOMS.forEach(function (code) {
        var label = document.createElement("label");
        label.className = "check";
        var box = document.createElement("input");
        box.type = "checkbox";
        box.id = "symptom-" + code;
        box.value = code;
        var text = document.createElement("span");
        text.setAttribute("data-symptom", code);
        label.appendChild(box);
        label.appendChild(document.createTextNode(" "));
        label.appendChild(text);
        container.appendChild(label);
      });
    }
    container.querySelectorAll("[data-symptom]").forEach(function (text) {
      text.textContent = table().symptom[text.getAttribute("data-symptom")];
    });
  }

  function renderRemembered(other) {
    var others = rememberedOthers();
    var list = $("remembered-list");
    list.textContent = "";
    others.forEach(function (id) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "button secondary chip";
      button.textContent = id;
      button.setAttribute("aria-label", t("remembered_choose", id));
      button.addEventListener("click", function () {
        $("person-id").value = id;
        clearError("person_id");
        $("person-id").focus();
      });
      list.appendChild(button);
    });
    show($("remembered"), other && others.length > 0);
    show($("forget"), Boolean(stored(PERSON_KEY)) || others.length > 0);
  }

  function clearError(path) {
    delete page.errors[path];
    renderErrors(false);
  }

  /** The errors under their fields, a line above the form counting them; `focus` moves to the first. */
  function renderErrors(focus) {
    var first = null;
    Object.keys(FIELDS).forEach(function (path) {
      var field = FIELDS[path];
      var element = $(field.error || field.input + "-error");
      var problem = page.errors[path];
      element.textContent = problem ? messageText(problem) : "";
      show(element, Boolean(problem));
      var input = $(field.input);
      if (problem) {
        input.setAttribute("aria-invalid", "true");
        if (!first) { first = input; }
      } else {
        input.removeAttribute("aria-invalid");
      }
    });
    var count = Object.keys(page.errors).length;
    var summary = $("form-errors");
    if (page.formError) {
      summary.textContent = table().errors[page.formError.key] +
        (page.formError.code ? " (" + t("error_code") + ": " + page.formError.code + ")" : "");
    } else {
      summary.textContent = count ? t("errors_summary", count) : "";
    }
    summary.setAttribute("data-code", page.formError ? page.formError.code || page.formError.key : "");
    show(summary, Boolean(page.formError) || count > 0);
    if (!focus) { return; }
    if (first) { first.focus(); } else if (page.formError) { summary.focus(); }
  }

  function messageText(problem) {
    var text = table().invalid[problem[0]];
    return typeof text === "function" ? text.apply(null, problem.slice(1)) : text || table().invalid.other;
  }

  function renderDone() {
    var done = page.done;
    if (!done) { return; }
    var id = String(done.answer.event_id);
    $("done-kind").textContent = table().kind[done.kind];
    $("done-time").textContent = t("done_time", i18n.time(done.at));
    $("done-reference").textContent = id.replace(/-/g, "").slice(0, 8).toUpperCase().replace(/^(.{4})/, "$1-");
    $("done-event-id").textContent = id;
    var summary = $("done-summary");
    summary.textContent = "";
    ["person_id", "declared_by"].concat(KIND_FIELDS[done.kind]).forEach(function (path) {
      var shown = shownValue(path, done.body);
      if (shown === null) { return; }
      var term = document.createElement("dt");
      term.textContent = FIELDS[path].label === "symptoms_label" ? table().symptoms_legend[done.kind] : t(FIELDS[path].label);
      var value = document.createElement("dd");
      value.textContent = shown;
      summary.appendChild(term);
      summary.appendChild(value);
    });
  }

  /** How a sent value reads on the confirmation (identifiers masked: the screen may be seen by others). */
  function shownValue(path, body) {
    var parts = path.split(".");
    var value = parts.length === 2 ? (body[parts[0]] || {})[parts[1]] : body[path];
    var field = FIELDS[path];
    if (field.check === "symptoms") {
      return value.length ? value.map(function (code) { return table().symptom[code]; }).join(", ") : t("summary_none");
    }
    if (value === undefined || (Array.isArray(value) && !value.length)) { return null; }
    if (field.check === "person") { return masked(value); }
    if (field.check === "yesno") { return t(value ? "yes" : "no"); }
    if (field.check === "temperature") { return t("summary_temperature", value); }
    if (field.check === "trip" || field.check === "birth") {
      return new Date(value + "T12:00:00").toLocaleDateString(table().locale, { dateStyle: "medium" });
    }
    return Array.isArray(value) ? value.join("; ") : String(value);
  }

  function masked(id) {
    var compact = String(id).replace(/\s/g, "");
    return compact.replace(/.(?=.{3})/g, "•");
  }

  // --- wiring ----------------------------------------------------------------------------------------------
  function setDayBounds() {
    var today = rules.today();
    [["arrival-date", rules.tripDays(today)], ["travel-date", rules.tripDays(today)], ["birth-date", rules.birthDays(today)]]
      .forEach(function (pair) {
        $(pair[0]).min = pair[1][0];
        $(pair[0]).max = pair[1][1];
      });
  }

  $("declaration").addEventListener("submit", submit);
  document.querySelectorAll("input[name='for']").forEach(function (radio) {
    radio.addEventListener("change", function () {
      delete page.errors.declared_by;
      prefill();
      render();
    });
  });
  // A field's error goes once it is changed: the next check is at the next send.
  Object.keys(FIELDS).forEach(function (path) {
    var field = FIELDS[path];
    var element = field.check === "yesno" ? $(field.input).closest("fieldset") : field.check === "symptoms" ? $("symptoms") : $(field.input);
    element.addEventListener("change", function () { if (page.errors[path]) { clearError(path); } });
    element.addEventListener("input", function () { if (page.errors[path]) { clearError(path); } });
  });
  $("forget").addEventListener("click", forget);
  $("another").addEventListener("click", another);
  window.addEventListener("hashchange", route);

  setDayBounds();
  renderSymptoms();
  $("remember").checked = Boolean(stored(PERSON_KEY));
  i18n.apply();
  route();
  $("submit").disabled = false;
  document.body.setAttribute("data-ready", "true");
})();
