/* The venue's visitor history (SPEC §4.1): GET /v1/venues/{id}/visits?from=…&to=… from the tracer with the
 * venue's key, for whole local days, as a table; the same period as a CSV file (/visits.csv).
 * Visitors are pseudonymous (a person key, the same for the same person); a busy venue's period can hold
 * tens of thousands of visits, so the table shows the first ones and the CSV has them all. */
(function () {
  "use strict";

  var portal = window.AntoanPortal;
  var $ = portal.$;
  var show = portal.show;
  var RETENTION_DAYS = 21;
  var DEFAULT_DAYS = 7;
  var MAX_ROWS = 500;
  var KEY_SHOWN = 12;  // characters of a person key in the table (the CSV has it whole)
  var DAY = /^\d{4}-\d{2}-\d{2}$/;

  var TEXT = {
    vi: {
      page_title: "Antoan — Lịch sử khách",
      title: "Lịch sử khách",
      period_title: "Lượt khách của",
      period_hint: "Khách được ghi bằng mã ẩn danh: cùng một người có cùng mã. Dữ liệu được giữ 21 ngày.",
      from_label: "Từ ngày",
      to_label: "Đến hết ngày",
      show: "Xem",
      csv: "Tải tệp CSV",
      loading_visits: "Đang tải…",
      visits_title: "Lượt vào, ra",
      col_number: "#",
      col_visitor: "Khách (mã ẩn danh)",
      col_in: "Vào",
      col_out: "Ra",
      col_stay: "Thời gian ở",
      still_in: function (time) { return "Đang ở trong (tự ra lúc " + time + ")"; },
      minutes: function (m) { return m < 60 ? m + " phút" : Math.floor(m / 60) + " giờ " + (m % 60) + " phút"; },
      summary: function (visits, people, from, to) { return visits + " lượt của " + people + " khách, từ " + from + " đến hết " + to + "."; },
      none: function (from, to) { return "Không có lượt khách nào từ " + from + " đến hết " + to + "."; },
      truncated: function (shown, all) { return "Bảng hiện " + shown + " lượt đầu trong " + all + " lượt: tải tệp CSV để có đủ."; },
      missing_day: "Hãy chọn cả hai ngày.",
      reversed: "Ngày bắt đầu phải trước hoặc bằng ngày kết thúc.",
      too_long: "Tối đa 21 ngày (thời gian dữ liệu được giữ)."
    },
    en: {
      page_title: "Antoan — Visitor history",
      title: "Visitor history",
      period_title: "Visits to",
      period_hint: "Visitors are recorded under a pseudonymous code: the same person has the same code. Data is kept for 21 days.",
      from_label: "From",
      to_label: "To the end of",
      show: "Show",
      csv: "Download CSV file",
      loading_visits: "Loading…",
      visits_title: "Visits in and out",
      col_number: "#",
      col_visitor: "Visitor (pseudonymous code)",
      col_in: "In",
      col_out: "Out",
      col_stay: "Stay",
      still_in: function (time) { return "Still inside (checked out automatically at " + time + ")"; },
      minutes: function (m) { return m < 60 ? m + " min" : Math.floor(m / 60) + " h " + (m % 60) + " min"; },
      summary: function (visits, people, from, to) {
        return visits + (visits === 1 ? " visit" : " visits") + " by " + people + (people === 1 ? " visitor" : " visitors") + ", " + from + " to " + to + ".";
      },
      none: function (from, to) { return "No visits from " + from + " to " + to + "."; },
      truncated: function (shown, all) { return "The table shows the first " + shown + " of " + all + " visits: download the CSV file for them all."; },
      missing_day: "Choose both days.",
      reversed: "The first day must not be after the last.",
      too_long: "At most 21 days (how long data is kept)."
    }
  };

  var i18n = portal.start(TEXT, render);
  var t = i18n.t;
  var creds = portal.requireSignIn("history");
  var shown = null;  // {period, visits}: what the table shows
  var failure = null;  // the refusal of the last load

  function isoDay(date) {
    return date.getFullYear() + "-" + String(date.getMonth() + 1).padStart(2, "0") + "-" + String(date.getDate()).padStart(2, "0");
  }
  function localDay(text) {
    var parts = text.split("-").map(Number);
    return new Date(parts[0], parts[1] - 1, parts[2]);
  }
  function addDays(date, days) { return new Date(date.getFullYear(), date.getMonth(), date.getDate() + days); }
  function dayText(text) { return i18n.time(localDay(text), { day: "2-digit", month: "2-digit", year: "numeric" }); }
  function timeText(value) {
    return i18n.time(value, { day: "2-digit", month: "2-digit" }) + " " + i18n.time(value, { hour: "2-digit", minute: "2-digit" });
  }

  /** The period of the two day fields as RFC 3339 instants (the first day's start, the last day's end),
   * or null after saying what is wrong. */
  function period() {
    var from = $("from").value;
    var to = $("to").value;
    var problem = !DAY.test(from) || !DAY.test(to) ? "missing_day" : from > to ? "reversed" :
      localDay(to) - localDay(from) >= RETENTION_DAYS * 86400000 ? "too_long" : null;
    $("period-error").textContent = problem ? t(problem) : "";
    show($("period-error"), Boolean(problem));
    if (problem) { return null; }
    var end = new Date(addDays(localDay(to), 1).getTime() - 1000);
    return { fromDay: from, toDay: to, from: localDay(from).toISOString(), to: end.toISOString() };
  }

  function query(p) { return "?from=" + encodeURIComponent(p.from) + "&to=" + encodeURIComponent(p.to); }

  function load(event) {
    if (event) { event.preventDefault(); }
    var p = period();
    if (!p) { return; }
    window.history.replaceState(null, "", portal.pageUrl("history", creds.venue_id, { from: p.fromDay, to: p.toDay }));
    $("show").disabled = true;
    $("summary").textContent = t("loading_visits");
    document.body.setAttribute("data-state", "loading");
    portal.api("GET", portal.venuePath(creds.venue_id, "/visits") + query(p), { key: creds.api_key }).then(function (answer) {
      $("show").disabled = false;
      if (!answer.ok || !answer.body || !Array.isArray(answer.body.visits)) {
        shown = null;
        failure = answer.code || "other";
        render();
        document.body.setAttribute("data-state", "error");
        return;
      }
      failure = null;
      shown = { period: p, visits: answer.body.visits };
      render();
      document.body.setAttribute("data-state", "loaded");
    });
  }

  function downloadCsv() {
    var p = period();
    if (!p) { return; }
    var path = portal.venuePath(creds.venue_id, "/visits.csv") + query(p);
    portal.download(path, creds.api_key, "visits-" + creds.venue_id + ".csv", $("csv-status"), $("csv"));
  }

  function render() {
    if (!creds) { return; }
    $("venue-name").textContent = creds.name || creds.venue_id;
    if (failure) {
      $("visits-body").textContent = "";
      $("summary").textContent = portal.errorText(failure);
      $("summary").setAttribute("data-code", failure);
      show($("truncated"), false);
    }
    if (!shown) { return; }
    $("summary").removeAttribute("data-code");
    var visits = shown.visits;
    var people = {};
    visits.forEach(function (visit) { people[visit.person_key] = true; });
    var p = shown.period;
    $("summary").textContent = visits.length ? t("summary", visits.length, Object.keys(people).length, dayText(p.fromDay), dayText(p.toDay)) :
      t("none", dayText(p.fromDay), dayText(p.toDay));
    $("summary").setAttribute("data-visits", String(visits.length));
    var body = $("visits-body");
    body.textContent = "";
    visits.slice(0, MAX_ROWS).forEach(function (visit, index) {
      var row = document.createElement("tr");
      row.setAttribute("data-visit-id", visit.visit_id);
      row.setAttribute("data-open", String(Boolean(visit.open)));
      var number = document.createElement("td");
      number.textContent = String(index + 1);
      var who = document.createElement("td");
      var key = document.createElement("code");
      key.textContent = visit.person_key.slice(0, KEY_SHOWN) + (visit.person_key.length > KEY_SHOWN ? "…" : "");
      key.title = visit.person_key;
      who.appendChild(key);
      var start = document.createElement("td");
      start.textContent = timeText(visit.start);
      var end = document.createElement("td");
      end.textContent = visit.open ? t("still_in", i18n.time(visit.end, { hour: "2-digit", minute: "2-digit" })) : timeText(visit.end);
      var stay = document.createElement("td");
      // An open visit has stayed until now so far (its `end` is the automatic check-out to come).
      var until = visit.open ? Math.min(Date.now(), Date.parse(visit.end)) : Date.parse(visit.end);
      stay.textContent = t("minutes", Math.max(0, Math.round((until - Date.parse(visit.start)) / 60000)));
      [number, who, start, end, stay].forEach(function (cell) { row.appendChild(cell); });
      body.appendChild(row);
    });
    show($("truncated"), visits.length > MAX_ROWS);
    $("truncated").textContent = visits.length > MAX_ROWS ? t("truncated", MAX_ROWS, visits.length) : "";
  }

  if (!creds) {
    i18n.apply();
    return;
  }
  var today = new Date();
  var params = new URLSearchParams(window.location.search);
  $("from").min = $("to").min = isoDay(addDays(today, 1 - RETENTION_DAYS));
  $("from").max = $("to").max = isoDay(today);
  $("from").value = DAY.test(params.get("from") || "") ? params.get("from") : isoDay(addDays(today, 1 - DEFAULT_DAYS));
  $("to").value = DAY.test(params.get("to") || "") ? params.get("to") : isoDay(today);
  $("period").addEventListener("submit", load);
  $("csv").addEventListener("click", downloadCsv);
  i18n.apply();
  load();
})();
