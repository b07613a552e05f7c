/* The health authority's console (/y-te/): sign-in, confirming a case, a case's F1 and F2 arriving live, quarantine
 * alerts, areas and venues, the access log. One page, a view per address (#confirm, #case/<id>, #alerts, #areas,
 * #audit); every health-authority call goes through AntoanAuth (auth.js), every live list through AntoanSse. */
(function () {
  "use strict";

  var Auth = window.AntoanAuth;
  var Sse = window.AntoanSse;
  var i18n = window.AntoanI18n.create(window.AntoanConsoleTexts, function () { rerender(); });
  var t = i18n.t;
  var $ = function (id) { return document.getElementById(id); };

  var CASE_KEY_PREFIX = "antoan.ha.case.";  // sessionStorage: a case confirmed in this tab (its time, its person)
  var POLL_MS = 3000;
  var AUDIT_POLL_MS = 5000;
  var AREAS_POLL_MS = 5000;
  var RECHECK_MS = 1000;
  var RECHECK_TIMES = 20;

  var current = { view: null, stop: [] };
  var rerender = function () {};

  // --- small helpers ------------------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") { node.textContent = attrs[name]; } else if (attrs[name] != null) { node.setAttribute(name, attrs[name]); }
    });
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }

  function shortKey(key) { return key ? String(key).slice(0, 10) + "…" : "—"; }

  function showError(node, text) { node.textContent = text || ""; node.hidden = !text; }

  function notice(text) { showError($("notice"), text); }

  /** An API refusal in words: the server's code and message (the credential's refusals are auth.js's). */
  function failureText(failure) {
    if (failure && failure.code) { return t("error_code", failure.code, failure.message || ""); }
    return t("error_generic");
  }

  /** JSON from an API; a non-2xx answer rejects with {status, code, message, detail}. */
  function readJson(response) {
    return response.text().then(function (text) {
      var body = null;
      try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
      if (response.ok) { return body; }
      var error = (body && body.error) || {};
      throw { status: response.status, code: error.code || "http_" + response.status, message: error.message || "", detail: error.detail };
    });
  }

  function authorisedJson(url, init) { return Auth.authorisedFetch(url, init).then(readJson); }
  function publicJson(url) { return fetch(url, { cache: "no-store", credentials: "omit" }).then(readJson); }

  function listOf(body, names) {
    if (Array.isArray(body)) { return body; }
    for (var i = 0; i < names.length; i += 1) { if (body && Array.isArray(body[names[i]])) { return body[names[i]]; } }
    return [];
  }

  function whenStopped(fn) { current.stop.push(fn); }

  function saveBlob(blob, filename) {
    var url = URL.createObjectURL(blob);
    var link = el("a", { href: url, download: filename, hidden: "" });
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }

  function levelBadge(level) {
    var badge = el("span", { "class": "level-badge", "data-level": level == null ? "0" : String(level) });
    badge.textContent = level == null ? t("unknown_level") : t("level_short") + " " + level + " · " + i18n.table().level[level];
    return badge;
  }

  function reasonText(reason) {
    var words = i18n.table().reasons[reason.code] || reason.code;
    var detail = reason.detail || {};
    var extra = Object.keys(detail).filter(function (k) { return typeof detail[k] !== "object"; })
      .map(function (k) { return k + ": " + detail[k]; });
    return extra.length ? words + " (" + extra.join(", ") + ")" : words;
  }

  // --- views and the address ------------------------------------------------------------------------------------

  function stopView() {
    current.stop.forEach(function (fn) { fn(); });
    current.stop = [];
  }

  function show(view) {
    document.body.setAttribute("data-view", view);
    ["signin", "confirm", "case", "alerts", "areas", "audit"].forEach(function (name) { $("view-" + name).hidden = name !== view; });
    var signedIn = view !== "signin";
    $("nav").hidden = !signedIn;
    $("sign-out").hidden = !signedIn;
    document.querySelectorAll("[data-nav]").forEach(function (link) {
      if (link.getAttribute("data-nav") === view) { link.setAttribute("aria-current", "page"); } else { link.removeAttribute("aria-current"); }
    });
  }

  function route() {
    stopView();
    rerender = function () {};
    if (!Auth.getToken()) {
      show("signin");
      $("token").focus();
      return;
    }
    var hash = decodeURIComponent(location.hash.replace(/^#/, ""));
    var match = /^case\/([A-Za-z0-9_-]{1,64})$/.exec(hash);
    if (match) { openCase(match[1]); return; }
    if (hash === "alerts") { openAlerts(); return; }
    if (hash === "areas") { openAreas(); return; }
    if (hash === "audit") { openAudit(); return; }
    show("confirm");
  }

  window.addEventListener("hashchange", function () { notice(""); route(); });

  window.addEventListener("antoan-auth:signed-out", function (event) {
    var detail = event.detail || {};
    stopView();
    var message = t("signed_out");
    if (detail.reason === "refused") { message = detail.status === 403 ? t("refused_403") : t("refused_401"); }
    show("signin");
    showError($("signin-error"), message);
    $("token").focus();
  });

  // --- sign-in -----------------------------------------------------------------------------------------------

  $("signin-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var button = $("signin-form").querySelector("button");
    var token = $("token").value;
    if (!token.trim()) { showError($("signin-error"), t("refused_401")); return; }
    button.disabled = true;
    showError($("signin-error"), t("checking"));
    Auth.signIn(token).then(function (result) {
      button.disabled = false;
      if (result.ok) {
        $("token").value = "";
        showError($("signin-error"), "");
        route();
        return;
      }
      var words = result.status === 403 ? "refused_403" : result.status === 401 ? "refused_401" : "signin_unavailable";
      showError($("signin-error"), t(words));
      $("token").select();
    }, function () {
      button.disabled = false;
      showError($("signin-error"), t("signin_unavailable"));
    });
  });

  $("sign-out").addEventListener("click", function () { Auth.signOut("signed_out"); });

  // --- confirming a case ---------------------------------------------------------------------------------------

  function isoOf(input) {
    if (!input.value) { return null; }
    var date = new Date(input.value);  // datetime-local: the browser's own time zone
    return isNaN(date.getTime()) ? null : date.toISOString();
  }

  $("confirm-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = $("confirm-form");
    var fields = {
      person_id: "person-id", case_id: "case-id", tested_at: "tested-at", onset_at: "onset-at", isolated_at: "isolated-at",
      province_code: "province-code", district_code: "district-code", ward_code: "ward-code"
    };
    var codeDigits = { province_code: 2, district_code: 3, ward_code: 5 };
    Object.keys(fields).forEach(function (name) { showError($(fields[name] + "-error"), ""); $(fields[name]).removeAttribute("aria-invalid"); });
    showError($("confirm-error"), "");
    var body = { person_id: $("person-id").value.trim(), tested_at: isoOf($("tested-at")) };
    var missing = ["person_id", "tested_at"].filter(function (name) { return !body[name]; });
    if (missing.length) {
      missing.forEach(function (name) { showError($(fields[name] + "-error"), t("required")); $(fields[name]).setAttribute("aria-invalid", "true"); });
      $(fields[missing[0]]).focus();
      return;
    }
    var badCode = Object.keys(codeDigits).filter(function (name) {
      var value = $(fields[name]).value.trim();
      return value && !new RegExp("^\\d{" + codeDigits[name] + "}$").test(value);
    });
    if (badCode.length) {
      badCode.forEach(function (name) {
        showError($(fields[name] + "-error"), t("digits", codeDigits[name]));
        $(fields[name]).setAttribute("aria-invalid", "true");
      });
      $(fields[badCode[0]]).focus();
      return;
    }
    Object.keys(codeDigits).forEach(function (name) {
      if ($(fields[name]).value.trim()) { body[name] = $(fields[name]).value.trim(); }
    });
    if ($("case-id").value.trim()) { body.case_id = $("case-id").value.trim(); }
    if (isoOf($("onset-at"))) { body.onset_at = isoOf($("onset-at")); }
    if (isoOf($("isolated-at"))) { body.isolated_at = isoOf($("isolated-at")); }
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    authorisedJson("/v1/cases", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .then(function (accepted) {
        try {
          sessionStorage.setItem(CASE_KEY_PREFIX + accepted.case_id,
            JSON.stringify({ confirmed_at: new Date().toISOString(), person_key: accepted.person_key }));
        } catch (e) { /* the page works without it, with less to say */ }
        form.reset();
        location.hash = "#case/" + encodeURIComponent(accepted.case_id);
      })
      .catch(function (failure) {
        if (Auth.isAuthError(failure)) { return; }
        var where = { invalid_person_id: "person_id", case_id_conflict: "case_id" }[failure.code] ||
          (/^(tested_at|onset_at|isolated_at)/.exec(failure.code || "") || [])[1];
        if (where) { showError($(fields[where] + "-error"), failureText(failure)); $(fields[where]).setAttribute("aria-invalid", "true"); }
        else { showError($("confirm-error"), failureText(failure)); }
      })
      .then(function () { button.disabled = false; });
  });

  $("open-case-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var id = $("open-case-id").value.trim();
    if (/^[A-Za-z0-9_-]{1,64}$/.test(id)) { location.hash = "#case/" + encodeURIComponent(id); }
  });

  // --- a case's contacts, live ---------------------------------------------------------------------------------

  var venueNames = {};

  function venueName(venueId, onKnown) {
    if (!venueId) { return "—"; }
    if (venueNames[venueId] === undefined) {
      venueNames[venueId] = null;
      publicJson("/v1/map/venues/" + encodeURIComponent(venueId)).then(function (venue) {
        venueNames[venueId] = venue.name;
        onKnown();
      }, function () { venueNames[venueId] = venueId; });
    }
    return venueNames[venueId] || venueId;
  }

  function openCase(caseId) {
    show("case");
    var remembered = {};
    try { remembered = JSON.parse(sessionStorage.getItem(CASE_KEY_PREFIX + caseId) || "{}"); } catch (e) { remembered = {}; }
    var contacts = {};   // person_key -> {item, withdrawn, previous, foundAt, revealed}
    var seen = null;     // the keys the current connection has sent before its `ready`
    var ready = false;
    var lastFoundAt = null;
    var liveState = "connecting";
    showError($("case-error"), "");

    function describe(item) {
      return "F" + item.degree + ", " + venueName(item.venue_id, render) + ", " + i18n.time(item.exposed_at);
    }

    function take(item) {
      var key = item.person_key;
      if (!key) { return; }
      if (seen) { seen[key] = true; }
      var entry = contacts[key];
      if (item.withdrawn) {
        if (entry) { entry.withdrawn = true; } else { contacts[key] = { item: item, withdrawn: true, previous: null }; }
        return;
      }
      if (!entry) {
        var now = new Date();
        contacts[key] = { item: item, withdrawn: false, previous: null, foundAt: now };
        if (ready || remembered.confirmed_at) { lastFoundAt = now; }
        return;
      }
      var changed = entry.item.degree !== item.degree || entry.item.exposed_at !== item.exposed_at || entry.item.venue_id !== item.venue_id;
      if (changed && !entry.withdrawn) { entry.previous = describe(entry.item); }
      if (entry.withdrawn) { entry.previous = null; entry.foundAt = new Date(); lastFoundAt = entry.foundAt; }
      entry.withdrawn = false;
      entry.item = item;
    }

    function settle() {
      // What a fresh connection did not send again no longer holds.
      Object.keys(contacts).forEach(function (key) { if (seen && !seen[key]) { contacts[key].withdrawn = true; } });
      seen = null;
      ready = true;
      render();
    }

    function render() {
      $("case-title").textContent = t("case_title", caseId);
      $("case-person").hidden = !remembered.person_key;
      if (remembered.person_key) { $("case-person").textContent = t("case_person", shortKey(remembered.person_key)); }
      var entries = Object.keys(contacts).map(function (key) { return contacts[key]; });
      entries.sort(function (a, b) {
        return (a.item.degree - b.item.degree) || String(a.item.exposed_at).localeCompare(String(b.item.exposed_at)) ||
          String(a.item.person_key).localeCompare(String(b.item.person_key));
      });
      var live = entries.filter(function (e) { return !e.withdrawn; });
      $("count-f1").textContent = String(live.filter(function (e) { return e.item.degree === 1; }).length);
      $("count-f2").textContent = String(live.filter(function (e) { return e.item.degree === 2; }).length);
      $("count-withdrawn").textContent = String(entries.length - live.length);
      if (remembered.confirmed_at && lastFoundAt) {
        $("last-label").textContent = t("to_last_contact");
        $("to-last").textContent = t("duration", Math.max(0, (lastFoundAt - new Date(remembered.confirmed_at)) / 1000));
      } else {
        $("last-label").textContent = t("last_found_at");
        $("to-last").textContent = lastFoundAt ? i18n.time(lastFoundAt, { timeStyle: "medium" }) : t("none_yet");
      }
      $("case-live").textContent = t("live_" + liveState);
      $("case-live").setAttribute("data-state", liveState);
      var rows = $("contact-rows");
      // The list is redrawn as contacts arrive: a keyboard user's place on a line's button is kept.
      var focused = document.activeElement && rows.contains(document.activeElement) ?
        document.activeElement.closest("tr").getAttribute("data-person-key") : null;
      var drawn = document.createDocumentFragment();
      entries.forEach(function (entry) { drawn.appendChild(contactRow(entry)); });
      rows.textContent = "";
      rows.appendChild(drawn);
      if (focused) {
        var again = rows.querySelector("tr[data-person-key='" + focused + "'] button, tr[data-person-key='" + focused + "'] td.details");
        if (again) {
          if (again.tagName !== "BUTTON") { again.setAttribute("tabindex", "-1"); }
          again.focus();
        }
      }
      $("no-contacts").hidden = entries.length > 0;
    }

    function contactRow(entry) {
      var item = entry.item;
      var through = !item.source_person_key ? "—" :
        item.source_person_key === remembered.person_key || item.degree === 1 ? t("through_case") : t("through_f1", shortKey(item.source_person_key));
      var state = entry.withdrawn ? t("state_withdrawn") : entry.previous ? t("state_corrected", entry.previous) : t("state_current");
      var details = el("td", { "class": "details" });
      if (entry.revealed) {
        details.appendChild(el("span", { text: entry.revealed }));
      } else {
        var button = el("button", { type: "button", "class": "link-button reveal", "aria-label": t("reveal_label", shortKey(item.person_key)), text: t("reveal") });
        button.addEventListener("click", function () { reveal(entry, button); });
        details.appendChild(button);
      }
      return el("tr", {
        "class": entry.withdrawn ? "withdrawn" : entry.previous ? "corrected" : null,
        "data-person-key": item.person_key,
        "data-degree": String(item.degree),
        "data-state": entry.withdrawn ? "withdrawn" : entry.previous ? "corrected" : "current"
      }, [
        el("td", {}, [el("span", { "class": "degree", "data-degree": String(item.degree), text: "F" + item.degree })]),
        el("td", { "class": "key", title: item.person_key, text: shortKey(item.person_key) }),
        el("td", { text: venueName(item.venue_id, render) }),
        el("td", { text: i18n.time(item.exposed_at) }),
        el("td", { text: through }),
        el("td", { "class": "state", text: state }),
        details
      ]);
    }

    function reveal(entry, button) {
      button.disabled = true;
      Auth.authorisedFetch("/v1/persons/" + encodeURIComponent(entry.item.person_key)).then(readJson).then(function (person) {
        var contact = (person && person.contact) || {};
        var words = [contact.full_name, contact.phone, contact.identifier].filter(Boolean);
        entry.revealed = words.length ? words.join(" · ") : t("revealed_none");
        render();
      }, function (failure) {
        if (Auth.isAuthError(failure)) { return; }
        entry.revealed = failure.status === 404 ? t("revealed_none") : failureText(failure);
        render();
      });
    }

    function poll() {
      // The list, when the server offers no stream: the same reconciliation, a connection per read.
      var timer = null;
      var stopped = false;
      function once() {
        authorisedJson("/v1/cases/" + encodeURIComponent(caseId) + "/contacts").then(function (body) {
          if (stopped) { return; }
          seen = {};
          listOf(body, ["contacts"]).forEach(function (item) { take(item); });
          liveState = "polling";
          settle();
        }, function (failure) {
          if (Auth.isAuthError(failure) || stopped) { return; }
          if (failure.status !== 404) { showError($("case-error"), failureText(failure)); }
        }).then(function () { if (!stopped) { timer = setTimeout(once, POLL_MS); } });
      }
      once();
      whenStopped(function () { stopped = true; clearTimeout(timer); });
    }

    // A connection opens with every current contact at once: the table is drawn once per burst, not per event.
    var pending = null;
    function schedule() { if (pending === null) { pending = setTimeout(function () { pending = null; render(); }, 0); } }
    whenStopped(function () { clearTimeout(pending); });

    var stream = Sse.open("/v1/cases/" + encodeURIComponent(caseId) + "/contacts/stream", {
      event: function (name, data) {
        if (name === "ready") { settle(); return; }
        if (name === "contact" && data && typeof data === "object") { take(data); schedule(); }
      },
      state: function (state) {
        if (state === "connecting") { seen = {}; ready = false; }
        if (state !== "closed") { liveState = state; }
        render();
      },
      missing: function () { poll(); }
    });
    whenStopped(function () { stream.close(); });

    $("export-csv").onclick = function () {
      Auth.authorisedFetch("/v1/cases/" + encodeURIComponent(caseId) + "/contacts.csv").then(function (response) {
        if (!response.ok) { return readJson(response); }
        return response.blob().then(function (blob) { saveBlob(blob, "contacts-" + caseId + ".csv"); });
      }).catch(function (failure) { if (!Auth.isAuthError(failure)) { showError($("case-error"), failureText(failure)); } });
    };

    rerender = render;
    render();
  }

  // --- quarantine alerts ---------------------------------------------------------------------------------------

  function alertId(alert) { return alert.alert_id || alert.event_id; }
  function isOpen(alert) { return !alert.acknowledged_at && (!alert.status || alert.status === "open"); }

  function openAlerts() {
    show("alerts");
    var alerts = {};
    var liveState = "connecting";
    showError($("alerts-error"), "");

    function take(alert) { if (alert && alertId(alert)) { alerts[alertId(alert)] = alert; } }

    function render() {
      $("alerts-live").textContent = t("live_" + liveState);
      $("alerts-live").setAttribute("data-state", liveState);
      var rows = $("alert-rows");
      rows.textContent = "";
      var list = Object.keys(alerts).map(function (id) { return alerts[id]; });
      list.sort(function (a, b) { return String(b.raised_at || b.occurred_at).localeCompare(String(a.raised_at || a.occurred_at)); });
      list.forEach(function (alert) { rows.appendChild(alertRow(alert)); });
      $("no-alerts").hidden = list.some(isOpen);
    }

    function alertRow(alert) {
      var detail = alert.detail || {};
      var reason = (t("reason")[alert.reason] || alert.reason || "");
      if (detail.temperature_c != null) { reason += " · " + t("temperature", detail.temperature_c); }
      if (Array.isArray(detail.symptoms) && detail.symptoms.length) {
        reason += " · " + detail.symptoms.map(function (s) { return i18n.table().symptom[s] || s; }).join(", ");
      }
      var action = el("td");
      if (isOpen(alert)) {
        var button = el("button", { type: "button", "class": "button small", "aria-label": t("acknowledge_label", shortKey(alert.person_key)), text: t("acknowledge") });
        button.addEventListener("click", function () { acknowledge(alert, button); });
        action.appendChild(button);
      } else {
        action.appendChild(el("span", { "class": "acknowledged", text: t("acknowledged") }));
      }
      return el("tr", { "data-alert-id": alertId(alert), "data-person-key": alert.person_key, "data-state": isOpen(alert) ? "open" : "acknowledged" }, [
        el("td", { text: i18n.time(alert.raised_at || alert.occurred_at) }),
        el("td", { "class": "key", title: alert.person_key, text: shortKey(alert.person_key) }),
        el("td", { text: reason }),
        action
      ]);
    }

    function acknowledge(alert, button) {
      button.disabled = true;
      authorisedJson("/v1/alerts/" + encodeURIComponent(alertId(alert)) + "/acknowledge", { method: "POST" }).then(function (answer) {
        var acknowledged = answer && typeof answer === "object" && alertId(answer) ? answer : {};
        Object.keys(acknowledged).forEach(function (name) { alert[name] = acknowledged[name]; });
        alert.status = "acknowledged";
        alert.acknowledged_at = alert.acknowledged_at || new Date().toISOString();
        render();
      }, function (failure) {
        button.disabled = false;
        if (!Auth.isAuthError(failure)) { showError($("alerts-error"), failureText(failure)); }
      });
    }

    var stopped = false;
    function load() {
      return authorisedJson("/v1/alerts?status=open").then(function (body) {
        if (stopped) { return; }
        listOf(body, ["alerts", "items"]).forEach(take);
        render();
      }, function (failure) {
        if (Auth.isAuthError(failure) || stopped) { return; }
        showError($("alerts-error"), failure.status === 404 ? t("unavailable") : failureText(failure));
      });
    }

    var stream = Sse.open("/v1/alerts/stream", {
      event: function (name, data) {
        // The stream sends what changes from its `ready` on: the list read then holds what came before.
        if (name === "ready") { load(); return; }
        if (data && typeof data === "object") { take(data); render(); }
      },
      state: function (state) {
        if (state === "waiting") { load(); }  // while the stream is down, the list at least
        if (state !== "closed") { liveState = state; render(); }
      },
      missing: function () {
        liveState = "polling";
        load();
        var timer = setInterval(load, POLL_MS);
        whenStopped(function () { clearInterval(timer); });
        render();
      }
    });
    whenStopped(function () { stopped = true; stream.close(); });
    rerender = render;
    render();
  }

  // --- areas and venues ----------------------------------------------------------------------------------------

  function openAreas() {
    show("areas");
    var areas = [];
    var venue = null;
    var timers = [];
    whenStopped(function () { timers.forEach(clearTimeout); });

    function loadAreas() {
      return publicJson("/v1/areas").then(function (list) { areas = listOf(list, ["areas"]); render(); }, function () {});
    }

    function render() {
      var rows = $("area-rows");
      rows.textContent = "";
      areas.slice().sort(function (a, b) { return String(a.area_code).localeCompare(String(b.area_code)); }).forEach(function (area) {
        rows.appendChild(el("tr", { "data-area-code": area.area_code, "data-level": area.level == null ? "" : String(area.level) }, [
          el("td", { text: area.area_code }),
          el("td", { text: t("kind")[area.area_kind] || area.area_kind }),
          el("td", { text: area.name }),
          el("td", {}, [levelBadge(area.level)]),
          el("td", { text: (area.reasons || []).map(reasonText).join("; ") })
        ]));
      });
      $("no-areas").hidden = areas.length > 0;
      renderVenue();
    }

    function renderVenue() {
      $("venue-detail").hidden = !venue;
      if (!venue) { return; }
      $("venue-detail").setAttribute("data-venue-id", venue.venue_id);
      $("venue-detail").setAttribute("data-level", venue.level == null ? "" : String(venue.level));
      $("venue-name").textContent = venue.name + (venue.address ? " — " + venue.address : "");
      var badge = levelBadge(venue.level);
      $("venue-level").replaceWith(badge);
      badge.id = "venue-level";
      var reasons = $("venue-reasons");
      reasons.textContent = "";
      (venue.reasons || []).forEach(function (reason) { reasons.appendChild(el("li", { text: reasonText(reason) })); });
    }

    function showVenue(id) {
      return publicJson("/v1/map/venues/" + encodeURIComponent(id)).then(function (found) {
        venue = found;
        $("venue-message").textContent = "";
        renderVenue();
        return found;
      }, function (failure) {
        venue = null;
        renderVenue();
        $("venue-message").textContent = failure.status === 404 || failure.status === 422 ? t("venue_not_found") : failureText(failure);
        return null;
      });
    }

    function recheck(times, check) {
      // The map works a new level out from the topic a moment after it is accepted: look again for a while.
      if (times <= 0) { return; }
      timers.push(setTimeout(function () { check().then(function (done) { if (!done) { recheck(times - 1, check); } }); }, RECHECK_MS));
    }

    $("upload-form").onsubmit = function (event) {
      event.preventDefault();
      var result = $("upload-result");
      result.textContent = "";
      var file = $("area-file").files[0];
      if (!file) { result.appendChild(el("p", { "class": "error", text: t("choose_file") })); return; }
      var before = JSON.stringify(areas.map(function (a) { return [a.area_code, a.level, a.population]; }));
      file.text().then(function (text) {
        return authorisedJson("/v1/areas", { method: "PUT", headers: { "Content-Type": "text/csv" }, body: text });
      }).then(function (accepted) {
        result.appendChild(el("p", { "class": "ok", text: t("upload_done", accepted.accepted) }));
        recheck(RECHECK_TIMES, function () {
          return loadAreas().then(function () {
            return JSON.stringify(areas.map(function (a) { return [a.area_code, a.level, a.population]; })) !== before;
          });
        });
      }, function (failure) {
        if (Auth.isAuthError(failure)) { return; }
        if (Array.isArray(failure.detail)) {
          result.appendChild(el("p", { "class": "error", text: t("upload_errors") }));
          result.appendChild(el("ul", { "class": "row-errors" }, failure.detail.map(function (problem) {
            return el("li", { text: t("row_error", problem.row, problem.error) });
          })));
        } else {
          result.appendChild(el("p", { "class": "error", text: failureText(failure) }));
        }
      });
    };

    $("venue-search").onsubmit = function (event) {
      event.preventDefault();
      var query = $("venue-query").value.trim();
      var list = $("venue-results");
      list.textContent = "";
      $("venue-message").textContent = "";
      if (!query) { return; }
      publicJson("/v1/map/search?q=" + encodeURIComponent(query) + "&limit=10").then(function (body) {
        return listOf(body, ["results"]);
      }, function () { return []; }).then(function (results) {
        if (!results.length) { return showVenue(query); }  // perhaps an id
        results.forEach(function (found) {
          var button = el("button", { type: "button", "class": "link-button", "data-venue-id": found.venue_id, text: found.name + (found.address ? " — " + found.address : "") });
          button.addEventListener("click", function () { showVenue(found.venue_id); });
          list.appendChild(el("li", {}, [button]));
        });
        if (results.length === 1) { showVenue(results[0].venue_id); }
        return null;
      });
    };

    $("clear-form").onsubmit = function (event) {
      event.preventDefault();
      if (!venue) { return; }
      var id = venue.venue_id;
      var levelBefore = venue.level;
      authorisedJson("/v1/venues/" + encodeURIComponent(id) + "/clearance", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ note: $("clear-note").value.trim() })
      }).then(function () {
        $("venue-message").textContent = t("cleared");
        $("clear-note").value = "";
        recheck(RECHECK_TIMES, function () {
          return showVenue(id).then(function (found) { return !found || found.level !== levelBefore; });
        });
      }, function (failure) {
        if (!Auth.isAuthError(failure)) { $("venue-message").textContent = failureText(failure); }
      });
    };

    // Levels change as cases arrive: the list (and the venue on show) read again every few seconds.
    var refresh = setInterval(function () {
      loadAreas();
      if (venue) { showVenue(venue.venue_id); }
    }, AREAS_POLL_MS);
    whenStopped(function () { clearInterval(refresh); });
    $("areas-refresh").onclick = loadAreas;
    rerender = render;
    loadAreas();
    render();
  }

  // --- the access log ----------------------------------------------------------------------------------------

  function openAudit() {
    show("audit");
    var entries = [];
    var timer = null;
    var stopped = false;

    function render() {
      var rows = $("audit-rows");
      rows.textContent = "";
      entries.forEach(function (entry) {
        var keys = entry.person_keys || (entry.person_key ? [entry.person_key] : []);
        rows.appendChild(el("tr", { "data-person-keys": keys.join(" ") }, [
          el("td", { text: i18n.time(entry.occurred_at || entry.at || entry.read_at, { dateStyle: "short", timeStyle: "medium" }) }),
          el("td", { text: entry.actor || "—" }),
          el("td", { "class": "key", text: keys.map(shortKey).join(", ") || "—" }),
          el("td", { text: entry.resource || "" }),
          el("td", { text: entry.purpose || "" })
        ]));
      });
      $("no-audit").hidden = entries.length > 0;
    }

    function load() {
      clearTimeout(timer);
      authorisedJson("/v1/audit?limit=200").then(function (body) {
        if (stopped) { return; }
        showError($("audit-error"), "");
        entries = listOf(body, ["entries", "items", "records", "reads"]);
        render();
        timer = setTimeout(load, AUDIT_POLL_MS);
      }, function (failure) {
        if (Auth.isAuthError(failure) || stopped) { return; }
        showError($("audit-error"), failure.status === 404 ? t("unavailable") : failureText(failure));
        timer = setTimeout(load, AUDIT_POLL_MS);
      });
    }

    $("audit-refresh").onclick = load;
    whenStopped(function () { stopped = true; clearTimeout(timer); });
    rerender = render;
    load();
    render();
  }

  // --- start -------------------------------------------------------------------------------------------------

  i18n.apply();
  $("signin-form").querySelector("button").disabled = false;
  route();
  document.body.setAttribute("data-ready", "true");
})();
