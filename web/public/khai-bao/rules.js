/* What the declaration forms check before anything is sent (SPEC §3.1, §3.5; ingest's api/schemas.py).
 *
 * Pure functions, no DOM: the page calls them, and the page test runs the identifier rule in the browser
 * against ingest's own (antoan_ingest.domain.identity) on the same inputs. Ingest has the last word on
 * everything: these only spare a person a round trip, and they refuse only what ingest would surely refuse.
 * An identifier the page cannot judge for sure (any character beyond printable ASCII once NFKC-folded:
 * digits of another script, unusual spaces) is left to ingest, whose refusal the page shows in the same place. */
(function (global) {
  "use strict";

  // antoan_ingest.domain.identity, for printable ASCII: the same separators and patterns, in the same order.
  var SEPARATORS = /[ \t\n\r\v\f.\-()]/g;
  var PHONE_NATIONAL = /^0[35789][0-9]{8}$/;
  var PHONE_INTERNATIONAL = /^\+?84[35789][0-9]{8}$/;
  var CCCD = /^[0-9]{12}$/;
  var CMND = /^[0-9]{9}$/;
  var PASSPORT = /^[A-Z](?=[A-Z0-9]*[0-9])[A-Z0-9]{5,11}$/;
  var JUDGED = /^[\x20-\x7e\t\n\r\v\f]*$/;

  // The schema's bounds: temperature_c (ge 30, le 45), dates (ingest's plausible.py: within 366 days of
  // today either way, births from 1900 to today; a day less here, so that time zones never make the page
  // accept what ingest refuses).
  var TEMPERATURE_MIN = 30;
  var TEMPERATURE_MAX = 45;
  var DAYS_EITHER_WAY = 365;
  var EARLIEST_BIRTH = "1900-01-01";
  var ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;
  var TEMPERATURE = /^(\d{2})(?:[.,](\d{1,2}))?$/;

  /** "phone", "cccd", "cmnd" or "passport" as ingest reads `raw`; null when ingest would refuse it;
   * "unknown" when the page cannot be sure (left to ingest). */
  function personIdKind(raw) {
    var text = String(raw).normalize("NFKC");
    if (!JUDGED.test(text)) { return "unknown"; }
    var compact = text.trim().replace(SEPARATORS, "").toUpperCase();
    if (PHONE_NATIONAL.test(compact) || PHONE_INTERNATIONAL.test(compact)) { return "phone"; }
    if (CCCD.test(compact)) { return "cccd"; }
    if (CMND.test(compact)) { return "cmnd"; }
    if (PASSPORT.test(compact)) { return "passport"; }
    return null;
  }

  /** One spelling per person, for telling two typed numbers apart (not sent: ingest normalises itself). */
  function samePerson(a, b) {
    function plain(raw) {
      var compact = String(raw).normalize("NFKC").trim().replace(SEPARATORS, "").toUpperCase();
      return PHONE_INTERNATIONAL.test(compact) ? "0" + compact.slice(compact.length - 9) : compact;
    }
    return plain(a) !== "" && plain(a) === plain(b);
  }

  /** A temperature as people type it ("38,5", "38.5", "37"), as a number; null when it is not one. */
  function parseTemperature(raw) {
    var match = TEMPERATURE.exec(String(raw).replace(/\s|°C?$/gi, ""));
    return match ? Number(match[1] + "." + (match[2] || "0")) : null;
  }

  function temperatureInRange(value) { return value >= TEMPERATURE_MIN && value <= TEMPERATURE_MAX; }

  /** `day` (YYYY-MM-DD) moved by `days`. */
  function addDays(day, days) {
    var date = new Date(day + "T00:00:00Z");
    date.setUTCDate(date.getUTCDate() + days);
    return date.toISOString().slice(0, 10);
  }

  /** Today on this device's calendar, YYYY-MM-DD. */
  function today(now) {
    var date = now || new Date();
    var month = String(date.getMonth() + 1).padStart(2, "0");
    return date.getFullYear() + "-" + month + "-" + String(date.getDate()).padStart(2, "0");
  }

  /** The days a trip (arrival, travel) may be on: [first, last]. */
  function tripDays(todayDay) { return [addDays(todayDay, -DAYS_EITHER_WAY), addDays(todayDay, DAYS_EITHER_WAY)]; }

  function birthDays(todayDay) { return [EARLIEST_BIRTH, todayDay]; }

  function dayWithin(day, bounds) { return ISO_DAY.test(day) && day >= bounds[0] && day <= bounds[1]; }

  /** The non-empty lines of a text box, trimmed: one place or country a line. */
  function lines(text) {
    return String(text).split(/\r?\n/).map(function (line) { return line.trim(); }).filter(Boolean);
  }

  global.AntoanDeclarationRules = {
    personIdKind: personIdKind,
    samePerson: samePerson,
    parseTemperature: parseTemperature,
    temperatureInRange: temperatureInRange,
    TEMPERATURE_MIN: TEMPERATURE_MIN,
    TEMPERATURE_MAX: TEMPERATURE_MAX,
    today: today,
    tripDays: tripDays,
    birthDays: birthDays,
    dayWithin: dayWithin,
    lines: lines
  };
})(self);
