/* The venue's safety self-assessment (SPEC §3.6): the checklist from the safety map
 * (GET /v1/self-assessment/checklist, in the page's language) as a form, POST /v1/venues/{id}/self-assessment
 * with the venue's key, then the score and the venue's risk level once the map has taken the score in
 * (a score below the threshold raises the venue to at least level 2, with the reason low_self_assessment). */
(function () {
  "use strict";

  var portal = window.AntoanPortal;
  var $ = portal.$;
  var show = portal.show;
  var RISK_EVERY_MS = 1500;
  var RISK_FOR_MS = 30000;

  var TEXT = {
    vi: {
      page_title: "Antoan — Tự đánh giá an toàn",
      title: "Tự đánh giá an toàn",
      form_title: "Tự đánh giá của",
      intro: function (threshold) {
        return "Đánh dấu các tiêu chí cơ sở đang thực hiện. Điểm là tổng điểm các tiêu chí đạt, trên 100. Dưới " + threshold +
          " điểm, cơ sở ở cấp độ nguy cơ ít nhất là 2 (trung bình) cho đến lần tự đánh giá đạt sau.";
      },
      criteria_legend: "Cơ sở đang thực hiện:",
      points: function (weight) { return weight + " điểm"; },
      loading_checklist: "Đang tải bảng tiêu chí…",
      submit: "Gửi tự đánh giá",
      submitting: "Đang gửi…",
      result_title: "Kết quả",
      passed: function (threshold) { return "Đạt: từ " + threshold + " điểm trở lên."; },
      below: function (threshold) { return "Dưới ngưỡng " + threshold + " điểm: cơ sở ở cấp độ nguy cơ ít nhất là 2 cho đến lần tự đánh giá đạt sau."; },
      risk_now: "Cấp độ nguy cơ của cơ sở",
      risk_waiting: "Đang cập nhật cấp độ nguy cơ…",
      risk_updated: function (time) { return "Đã cập nhật theo điểm mới, lúc " + time + "."; },
      risk_later: "Cấp độ nguy cơ sẽ được cập nhật theo điểm mới trong ít phút."
    },
    en: {
      page_title: "Antoan — Safety self-assessment",
      title: "Safety self-assessment",
      form_title: "Self-assessment of",
      intro: function (threshold) {
        return "Tick what the venue does. The score is the sum of the points of the criteria met, out of 100. Below " + threshold +
          " points, the venue is at risk level 2 (medium) or higher until a later self-assessment passes.";
      },
      criteria_legend: "The venue does this:",
      points: function (weight) { return weight + " points"; },
      loading_checklist: "Loading the checklist…",
      submit: "Submit the self-assessment",
      submitting: "Submitting…",
      result_title: "Result",
      passed: function (threshold) { return "Passed: " + threshold + " points or more."; },
      below: function (threshold) { return "Below the threshold of " + threshold + " points: the venue is at risk level 2 or higher until a later self-assessment passes."; },
      risk_now: "The venue's risk level",
      risk_waiting: "Updating the risk level…",
      risk_updated: function (time) { return "Updated for the new score at " + time + "."; },
      risk_later: "The risk level will follow the new score within a few minutes."
    }
  };

  var i18n = portal.start(TEXT, onLanguage);
  var t = i18n.t;
  var creds = portal.requireSignIn("assessment");
  var checklist = null;  // GET /v1/self-assessment/checklist
  var result = null;     // the POST's answer
  var risk = null;
  var riskTimer = null;
  var riskRound = 0;
  var busy = false;

  function onLanguage(lang) {
    if (!creds) { return; }
    if (checklist && checklist.language !== lang) { loadChecklist(); }
    render();
  }

  function loadChecklist() {
    var lang = i18n.lang();
    $("criteria").setAttribute("aria-busy", "true");
    $("intro").textContent = t("loading_checklist");
    portal.api("GET", "/v1/self-assessment/checklist?lang=" + lang).then(function (answer) {
      if (i18n.lang() !== lang) { return; }  // switched again meanwhile
      if (!answer.ok || !answer.body || !Array.isArray(answer.body.criteria)) {
        formError(portal.errorText(answer.code || "other"), answer.code);
        return;
      }
      checklist = answer.body;
      renderCriteria();
      $("submit").disabled = false;
      document.body.setAttribute("data-state", "ready");
      render();
    });
  }

  function renderCriteria() {
    var container = $("criteria");
    var ticked = {};
    container.querySelectorAll("input[type=checkbox]").forEach(function (box) { ticked[box.value] = box.checked; });
    container.textContent = "";
    checklist.criteria.forEach(function (criterion) {
      var label = document.createElement("label");
      label.className = "check criterion";
      var box = document.createElement("input");
      box.type = "checkbox";
      box.id = "criterion-" + criterion.id;
      box.value = criterion.id;
      box.checked = Boolean(ticked[criterion.id]);
      var text = document.createElement("span");
      text.className = "criterion-text";
      text.textContent = criterion.text;
      var weight = document.createElement("span");
      weight.className = "weight";
      weight.textContent = t("points", criterion.weight);
      label.appendChild(box);
      label.appendChild(text);
      label.appendChild(weight);
      container.appendChild(label);
    });
    container.setAttribute("aria-busy", "false");
  }

  function formError(text, code) {
    $("form-error").textContent = text || "";
    $("form-error").setAttribute("data-code", code || "");
    show($("form-error"), Boolean(text));
  }

  function submit(event) {
    event.preventDefault();
    if (busy || !checklist) { return; }
    var answers = {};
    $("criteria").querySelectorAll("input[type=checkbox]").forEach(function (box) { answers[box.value] = box.checked; });
    busy = true;
    $("submit").disabled = true;
    $("submit").textContent = t("submitting");
    formError(null);
    portal.api("POST", portal.venuePath(creds.venue_id, "/self-assessment"), { key: creds.api_key, body: { answers: answers } }).then(function (answer) {
      busy = false;
      $("submit").disabled = false;
      $("submit").textContent = t("submit");
      if (!answer.ok || !answer.body) {
        formError(portal.errorText(answer.code), answer.code);
        return;
      }
      result = answer.body;
      risk = null;
      $("result").setAttribute("data-risk", "waiting");
      show($("result"), true);
      render();
      $("result").focus();
      followRisk(Date.now() + RISK_FOR_MS);
    });
  }

  /** Whether the venue's published level has taken this score in (SPEC §3.6: below the threshold, the
   * reason low_self_assessment with this score; at or above it, no such reason). */
  function reflects(found) {
    var low = (found.reasons || []).filter(function (reason) { return reason.code === "low_self_assessment"; })[0];
    return result.below_threshold ? Boolean(low && low.detail && low.detail.score === result.score) : !low;
  }

  function followRisk(until) {
    clearTimeout(riskTimer);
    var round = ++riskRound;
    portal.api("GET", portal.venuePath(creds.venue_id, "/risk")).then(function (answer) {
      if (round !== riskRound) { return; }  // a later submission follows the level now
      if (answer.ok && answer.body) { risk = answer.body; }
      var done = risk && reflects(risk);
      $("result").setAttribute("data-risk", done ? "updated" : Date.now() < until ? "waiting" : "later");
      render();
      if (!done && Date.now() < until) { riskTimer = setTimeout(function () { followRisk(until); }, RISK_EVERY_MS); }
    });
  }

  function render() {
    if (!creds) { return; }
    $("venue-name").textContent = creds.name || creds.venue_id;
    if (checklist) {
      $("intro").textContent = t("intro", checklist.threshold);
      $("criteria").querySelectorAll(".weight").forEach(function (weight, index) {
        weight.textContent = t("points", checklist.criteria[index].weight);
      });
    }
    if (!result) { return; }
    $("score").textContent = String(result.score);
    $("verdict").textContent = t(result.below_threshold ? "below" : "passed", result.threshold);
    $("verdict").setAttribute("data-below", String(result.below_threshold));
    portal.renderRisk($("risk"), $("reasons"), risk);
    var state = $("result").getAttribute("data-risk");
    $("risk-note").textContent = state === "updated" ? t("risk_updated", i18n.time(risk.as_of || new Date(), { hour: "2-digit", minute: "2-digit" })) :
      state === "later" ? t("risk_later") : t("risk_waiting");
  }

  if (!creds) {
    i18n.apply();
    return;
  }
  $("assessment").addEventListener("submit", submit);
  i18n.apply();
  loadChecklist();
})();
