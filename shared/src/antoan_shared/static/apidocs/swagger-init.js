// Starts Swagger UI on /docs. A file rather than an inline script, so the page's Content-Security-Policy
// can say `script-src 'self'`; the page hands over the OpenAPI URL in a JSON element.
"use strict";
(function () {
  var config = JSON.parse(document.getElementById("antoan-apidocs").textContent);
  window.ui = SwaggerUIBundle({
    url: config.openapi_url,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // Swagger UI would otherwise send the spec to validator.swagger.io for a badge.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
