/* "My QR"'s service worker (scope /ma-qr/): the page, and the code kept on the phone, open without a network,
 * at a venue's door where there may be none.
 *
 * The page is static and asks the network for nothing else, so its files are answered from the cache at once
 * and fetched again behind it (stale-while-revalidate): a new release shows on the next opening. */
"use strict";

var CACHE = "antoan-myqr-v1";  // a new name drops the old copies (activate)
var FILES = [
  "/ma-qr/",
  "/ma-qr/my-qr.js",
  "/ma-qr/my-qr.css",
  "/app/i18n.js",
  "/app/base.css",
  "/vendor/qrcode-generator/qrcode.js"
];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(FILES.map(function (path) { return new Request(path, { cache: "no-cache" }); }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name.indexOf("antoan-myqr-") === 0 && name !== CACHE; })
      .map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var url = new URL(event.request.url);
  var path = url.pathname === "/ma-qr/index.html" ? "/ma-qr/" : url.pathname;
  if (event.request.method !== "GET" || url.origin !== self.location.origin || FILES.indexOf(path) < 0) { return; }
  event.respondWith(caches.open(CACHE).then(function (cache) {
    return cache.match(path).then(function (cached) {
      var fresh = fetch(event.request).then(function (response) {
        if (response.ok && response.type === "basic" && !response.redirected) { cache.put(path, response.clone()); }
        return response;
      });
      if (!cached) { return fresh; }
      event.waitUntil(fresh.catch(function () { /* offline: the cached copy served */ }));
      return cached;
    });
  }));
});
