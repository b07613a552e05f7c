/* The symptoms a person can declare, as ticks: the values of antoan_shared.events.Symptom (SPEC §3.5), in the
 * order pages list them, with the words of /app/i18n.js (its shared `symptom` table). One place for both, so
 * that every page that asks about symptoms sends what ingest takes and says it the same way. */
(function (global) {
  "use strict";

  var CODES = ["fever", "cough", "difficulty_breathing", "pneumonia", "sore_throat", "fatigue"];

  /** Fills `container` with a labelled checkbox per symptom (ids `symptom-<code>`) the first time, and
   * (re)labels them in the translator's current language every time. */
  function render(container, i18n) {
    if (!container.childElementCount) {
      CODES.forEach(function (code) {
        var label = global.document.createElement("label");
        label.className = "check";
        var box = global.document.createElement("input");
        box.type = "checkbox";
        box.id = "symptom-" + code;
        box.value = code;
        var text = global.document.createElement("span");
        text.setAttribute("data-symptom", code);
        label.appendChild(box);
        label.appendChild(global.document.createTextNode(" "));
        label.appendChild(text);
        container.appendChild(label);
      });
    }
    container.querySelectorAll("[data-symptom]").forEach(function (text) {
      text.textContent = i18n.table().symptom[text.getAttribute("data-symptom")];
    });
  }

  /** The codes ticked in `container`, in list order. */
  function ticked(container) {
    return CODES.filter(function (code) {
      var box = container.querySelector("#symptom-" + code);
      return Boolean(box && box.checked);
    });
  }

  /** Unticks them all. */
  function clear(container) {
    container.querySelectorAll("input[type=checkbox]").forEach(function (box) { box.checked = false; });
  }

  global.AntoanSymptoms = { CODES: CODES, render: render, ticked: ticked, clear: clear };
})(self);
