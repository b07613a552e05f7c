/* The health authority's credential, in one place: every console page asks this module, and nothing else, for
 * the right to call the health-authority APIs.
 *
 * Interface (window.AntoanAuth):
 *   getToken()                 -> the bearer credential of this tab's session, or null when signed out.
 *   signIn(token)              -> Promise<{ok: true} | {ok: false, status, code}>: checks the credential against a
 *                                 health-authority read that changes nothing, and keeps it only if it is accepted.
 *   signOut(reason?)           -> forgets the credential; fires "antoan-auth:signed-out" on window (detail: {reason}).
 *   authorisedFetch(url, init) -> fetch() with `Authorization: Bearer <token>`; a 401 or 403 answer signs out
 *                                 (reason "refused", with the status and error code) and rejects with an AuthError.
 *   isAuthError(error)         -> whether a rejection was the credential's.
 *
 * Today the credential is the shared ANTOAN_HA_TOKEN, kept in sessionStorage only: gone when the tab closes, never
 * in localStorage, never in an address. An OIDC provider replaces this file alone: signIn() starts the
 * authorisation-code flow with PKCE, getToken() returns the access token, and authorisedFetch() renews it before
 * it expires; the pages keep calling the same four functions. */
(function (global) {
  "use strict";

  var KEY = "antoan.ha.session";
  // A read that needs the health authority's token and changes nothing (no audit record): an unknown case.
  var PROBE = "/v1/cases/c_0000000000000000/contacts";

  function AuthError(status, code) {
    this.name = "AuthError";
    this.status = status;
    this.code = code;
    this.message = "credential refused (" + status + (code ? " " + code : "") + ")";
  }
  AuthError.prototype = Object.create(Error.prototype);

  function getToken() {
    try { return global.sessionStorage.getItem(KEY); } catch (e) { return null; }
  }

  function signOut(reason, status, code) {
    try { global.sessionStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
    global.dispatchEvent(new CustomEvent("antoan-auth:signed-out", {
      detail: { reason: reason || "signed_out", status: status || null, code: code || null }
    }));
  }

  function errorCode(response) {
    return response.clone().json().then(function (body) {
      return body && body.error && body.error.code ? body.error.code : null;
    }, function () { return null; });
  }

  function withAuthorization(init, token) {
    var options = {};
    Object.keys(init || {}).forEach(function (name) { options[name] = init[name]; });
    var headers = new Headers((init && init.headers) || {});
    if (token) { headers.set("Authorization", "Bearer " + token); }
    options.headers = headers;
    options.credentials = "omit";
    options.cache = "no-store";
    return options;
  }

  function signIn(token) {
    var given = String(token || "").trim();
    if (!given) { return Promise.resolve({ ok: false, status: 401, code: "token_required" }); }
    return fetch(PROBE, withAuthorization({}, given)).then(function (response) {
      if (response.status === 401 || response.status === 403) {
        return errorCode(response).then(function (code) { return { ok: false, status: response.status, code: code }; });
      }
      if (response.status >= 500) { return { ok: false, status: response.status, code: "service_unavailable" }; }
      try { global.sessionStorage.setItem(KEY, given); } catch (e) {
        return { ok: false, status: 0, code: "storage_unavailable" };
      }
      return { ok: true };
    });
  }

  function authorisedFetch(url, init) {
    var token = getToken();
    if (!token) {
      signOut("refused", 401, "token_required");
      return Promise.reject(new AuthError(401, "token_required"));
    }
    return fetch(url, withAuthorization(init, token)).then(function (response) {
      if (response.status !== 401 && response.status !== 403) { return response; }
      return errorCode(response).then(function (code) {
        signOut("refused", response.status, code);
        throw new AuthError(response.status, code);
      });
    });
  }

  global.AntoanAuth = {
    getToken: getToken,
    signIn: signIn,
    signOut: signOut,
    authorisedFetch: authorisedFetch,
    isAuthError: function (error) { return error instanceof AuthError; }
  };
})(self);
