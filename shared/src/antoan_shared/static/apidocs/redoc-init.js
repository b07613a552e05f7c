// Starts ReDoc on /redoc. A file rather than an inline script, so the page's Content-Security-Policy can
// say `script-src 'self'`; the page hands over the OpenAPI URL and the nonce of this response, which
// ReDoc puts on the <style> elements its styled-components insert (the CSP admits no other inline style).
"use strict";
(function () {
  var config = JSON.parse(document.getElementById("antoan-apidocs").textContent);
  Redoc.init(config.openapi_url, { nonce: config.style_nonce }, document.getElementById("redoc"));
})();
