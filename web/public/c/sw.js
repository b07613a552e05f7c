/* The check-in page's service worker (scope /c/): the page opens without a network, and the scans it kept
 * are uploaded by Background Sync where the browser has it.
 *
 * Every address under /c/ is the same page (the gateway answers /c/<token> with c/index.html), so one
 * cached copy of the shell opens any venue's code offline. The shell is fetched from the network first, so
 * a phone online always has the current page; the cache answers when the network does not (or is too slow
 * for someone waiting at a door). API answers are never cached here: the page keeps what it needs. */
"use strict";

importScripts("/c/queue.js");

var CACHE = "antoan-checkin-shell-v1";  // a new name drops the old copies (activate)
var SHELL_PAGE = "/c/index.html";
var SHELL = [
  SHELL_PAGE,
  "/c/checkin.js",
  "/c/checkin.css",
  "/c/queue.js",
  "/c/icon.svg",
  "/app/i18n.js",
  "/app/symptoms.js",
  "/app/base.css"
];
var NETWORK_WAIT_MS = 4000;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE)
      .then(function (cache) { return cache.addAll(SHELL.map(function (path) { return new Request(path, { cache: "no-cache" }); })); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (names) {
        return Promise.all(names.filter(function (name) { return name.indexOf("antoan-checkin-shell-") === 0 && name !== CACHE; })
          .map(function (name) { return caches.delete(name); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") { return; }
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.mode === "navigate" && url.pathname.indexOf("/c/") === 0) {
    event.respondWith(networkFirst(request, SHELL_PAGE));
  } else if (SHELL.indexOf(url.pathname) >= 0) {
    event.respondWith(networkFirst(request, url.pathname));
  }
});

/** The network's answer when it comes in time (and a good one is kept for next time), else the cached copy
 * under `key`; the network's answer, whatever it is, when nothing is cached. */
function networkFirst(request, key) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(key).then(function (cached) {
      var network = fetch(request).then(function (response) {
        if (response.ok && !response.redirected && response.type === "basic") {
          cache.put(key, response.clone());
        }
        return response.ok || !cached ? response : cached;
      });
      if (!cached) { return network; }
      var fallback = network.catch(function () { return cached; });
      var slow = new Promise(function (resolve) { setTimeout(function () { resolve(cached); }, NETWORK_WAIT_MS); });
      return Promise.race([fallback, slow]);
    });
  });
}

self.addEventListener("sync", function (event) {
  if (event.tag === self.AntoanQueue.SYNC_TAG) {
    event.waitUntil(self.AntoanQueue.flush().then(function (report) {
      return notifyPages(report).then(function () {
        // Some still kept: failing the sync makes the browser try again later.
        if (report.kept > 0) { throw new Error("scans still queued"); }
      });
    }));
  }
});

/** Open pages show the queue: they re-read it when told an upload happened. */
function notifyPages(report) {
  return self.clients.matchAll({ type: "window" }).then(function (clients) {
    clients.forEach(function (client) {
      client.postMessage({ type: "antoan-checkin-uploaded", sent: report.sent.length, refused: report.refused.length });
    });
  });
}
