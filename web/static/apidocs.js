// Starts Swagger UI (web/core/apidocs.py serves its bundle) on this server's OpenAPI document.
(function () {
  "use strict";
  const root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle === "undefined") return;
  SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    validatorUrl: null,  // the public validator would be a request to another site
  });
})();
