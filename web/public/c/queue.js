/* The check-in page's offline queue: scans kept on the device (IndexedDB) until ingest has them.
 *
 * A scan is queued before it is first sent, with its real scanned_at and a client_event_id made at scan
 * time, so whatever happens to the request (no network, a timeout, the page closed) the same scan can be
 * sent again and ingest counts it once (SPEC §3.3). It leaves the queue when ingest accepted it, or refused
 * it for good (a 4xx other than 429 and "request_in_progress"): those are kept apart, to be shown.
 *
 * Loaded by the page (a script tag) and by its service worker (importScripts), which uploads on Background
 * Sync where the browser has it; no DOM here. One upload at a time across both (Web Locks where present). */
(function (global) {
  "use strict";

  var DB_NAME = "antoan-checkin";
  var DB_VERSION = 1;
  var QUEUE = "queue";      // scans not yet accepted, by client_event_id
  var REFUSED = "refused";  // scans refused for good, until the person dismisses them
  var BATCH_URL = "/v1/checkins/batch";
  var SINGLE_URL = "/v1/checkins";
  var BATCH_SIZE = 100;
  var REQUEST_TIMEOUT_MS = 15000;
  var LOCK = "antoan-checkin-upload";
  var SYNC_TAG = "antoan-checkin-upload";

  var opening = null;

  function database() {
    if (!opening) {
      opening = new Promise(function (resolve, reject) {
        if (!global.indexedDB) { reject(new Error("no IndexedDB")); return; }
        var opened = global.indexedDB.open(DB_NAME, DB_VERSION);
        opened.onupgradeneeded = function () {
          var db = opened.result;
          if (!db.objectStoreNames.contains(QUEUE)) { db.createObjectStore(QUEUE, { keyPath: "client_event_id" }); }
          if (!db.objectStoreNames.contains(REFUSED)) { db.createObjectStore(REFUSED, { keyPath: "client_event_id" }); }
        };
        opened.onsuccess = function () {
          var db = opened.result;
          db.onversionchange = function () { db.close(); opening = null; };
          resolve(db);
        };
        opened.onerror = function () { reject(opened.error); };
      });
      opening.catch(function () { opening = null; });
    }
    return opening;
  }

  /** Runs `work(store)` in a transaction on `name`; resolves with what work's last request gave once the
   * transaction has committed. */
  function transact(name, mode, work) {
    return database().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(name, mode);
        var last = work(tx.objectStore(name));
        tx.oncomplete = function () { resolve(last ? last.result : undefined); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error || new Error("transaction aborted")); };
      });
    });
  }

  function byScanTime(entries) {
    return entries.sort(function (a, b) { return a.item.scanned_at < b.item.scanned_at ? -1 : a.item.scanned_at > b.item.scanned_at ? 1 : 0; });
  }

  function put(entry) { return transact(QUEUE, "readwrite", function (store) { return store.put(entry); }); }
  function remove(id) { return transact(QUEUE, "readwrite", function (store) { return store.delete(id); }); }
  function pending() { return transact(QUEUE, "readonly", function (store) { return store.getAll(); }).then(byScanTime); }
  function refused() { return transact(REFUSED, "readonly", function (store) { return store.getAll(); }).then(byScanTime); }
  function dismiss(id) { return transact(REFUSED, "readwrite", function (store) { return store.delete(id); }); }

  /** Moves a scan refused for good out of the queue, with the error that refused it. */
  function refuse(entry, error) {
    var kept = Object.assign({}, entry, { error: { code: error.code, message: error.message }, refused_at: new Date().toISOString() });
    return transact(REFUSED, "readwrite", function (store) { return store.put(kept); }).then(function () { return remove(entry.client_event_id); });
  }

  /** Whether an answer means "try again later" (the scan stays queued) rather than a verdict. */
  function retryable(status, code) {
    return status === 0 || status === 408 || status === 429 || status >= 500 || code === "request_in_progress";
  }

  function errorOf(body, status) {
    var error = body && body.error;
    return error && typeof error.code === "string" ? error : { code: "http_" + status, message: "" };
  }

  /** A JSON request to the API; resolves {status, body}, with status 0 when there was no answer (no
   * network, or none within the timeout). Never rejects. */
  function request(method, url, payload, timeoutMs) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, timeoutMs || REQUEST_TIMEOUT_MS) : null;
    var init = { method: method, headers: { accept: "application/json" }, signal: controller ? controller.signal : undefined, cache: "no-store" };
    if (payload !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    return global.fetch(url, init).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        return { status: response.status, body: body };
      });
    }, function () {
      return { status: 0, body: null };
    }).then(function (answer) {
      if (timer) { clearTimeout(timer); }
      return answer;
    });
  }

  function post(url, payload) { return request("POST", url, payload); }

  /** One at a time across the page and the service worker where the browser has Web Locks; else within
   * this context (ingest counts a scan sent twice once anyway: the lock only saves requests). */
  var local = Promise.resolve();
  function exclusively(work) {
    if (global.navigator && global.navigator.locks && global.navigator.locks.request) {
      return global.navigator.locks.request(LOCK, work);
    }
    var run = local.then(work, work);
    local = run.catch(function () { /* the next runs anyway */ });
    return run;
  }

  /** Settles one entry from its answer; records the outcome in `report`. */
  function settle(entry, status, result, error, report) {
    if (status >= 200 && status < 300) {
      report.sent.push({ entry: entry, result: result });
      return remove(entry.client_event_id);
    }
    if (retryable(status, error && error.code)) {
      report.kept += 1;
      return Promise.resolve();
    }
    report.refused.push({ entry: entry, error: error });
    return refuse(entry, error);
  }

  /** Sends each entry alone: after a whole batch was refused (one bad item must not hold back the rest). */
  function sendEach(entries, report) {
    return entries.reduce(function (previous, entry) {
      return previous.then(function () {
        if (report.offline) { report.kept += 1; return undefined; }
        return post(SINGLE_URL, entry.item).then(function (answer) {
          if (answer.status === 0) { report.offline = true; }
          return settle(entry, answer.status, answer.body, errorOf(answer.body, answer.status), report);
        });
      });
    }, Promise.resolve());
  }

  function sendBatch(entries, report) {
    return post(BATCH_URL, { items: entries.map(function (entry) { return entry.item; }) }).then(function (answer) {
      if (answer.status === 202 || answer.status === 207) {
        var results = (answer.body && answer.body.results) || [];
        return Promise.all(results.map(function (outcome) {
          var entry = entries[outcome.index];
          return entry ? settle(entry, outcome.status, outcome.result, outcome.error || errorOf(null, outcome.status), report) : null;
        }));
      }
      if (retryable(answer.status, errorOf(answer.body, answer.status).code)) {
        report.offline = answer.status === 0;
        report.kept += entries.length;
        report.stopped = true;
        return undefined;
      }
      return sendEach(entries, report);
    });
  }

  /** Uploads what is queued (but the ids in `skip`: scans being sent right now by the page), oldest scan
   * first, in batches. Resolves {sent: [{entry, result}], refused: [{entry, error}], kept, offline}. */
  function flush(skip) {
    return exclusively(function () {
      var report = { sent: [], refused: [], kept: 0, offline: false, stopped: false };
      return pending().then(function (entries) {
        var todo = entries.filter(function (entry) { return !(skip && skip[entry.client_event_id]); });
        var chunks = [];
        for (var i = 0; i < todo.length; i += BATCH_SIZE) { chunks.push(todo.slice(i, i + BATCH_SIZE)); }
        return chunks.reduce(function (previous, chunk) {
          return previous.then(function () {
            if (report.stopped) { report.kept += chunk.length; return undefined; }
            return sendBatch(chunk, report);
          });
        }, Promise.resolve());
      }).then(function () { return report; });
    });
  }

  global.AntoanQueue = {
    put: put,
    remove: remove,
    pending: pending,
    refused: refused,
    refuse: refuse,
    dismiss: dismiss,
    flush: flush,
    request: request,
    retryable: retryable,
    errorOf: errorOf,
    SYNC_TAG: SYNC_TAG
  };
})(self);
