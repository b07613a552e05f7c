/* Server-sent events read with fetch() (EventSource cannot send the Authorization header), through
 * AntoanAuth.authorisedFetch. AntoanSse.open(url, handlers) -> {close()}:
 *   handlers.event(name, data)  each event; `data` parsed as JSON (the raw text when it is not JSON)
 *   handlers.state(state)       "connecting" | "open" | "waiting" (reconnecting after a pause) | "closed"
 *   handlers.missing(status)    the server has no such stream (404/405): nothing is retried
 * A dropped or failed stream is opened again after a growing pause (1 s, doubling to 30 s, reset once a stream
 * has delivered an event); a refused credential ends it (auth.js has signed out). */
(function (global) {
  "use strict";

  var FIRST_PAUSE_MS = 1000;
  var LONGEST_PAUSE_MS = 30000;

  /** Splits SSE text into events; returns the unfinished tail to keep for the next chunk. */
  function parse(buffer, emit) {
    var blocks = buffer.split(/\r\n\r\n|\n\n|\r\r/);
    var tail = blocks.pop();
    blocks.forEach(function (block) {
      var name = "message";
      var data = [];
      block.split(/\r\n|\n|\r/).forEach(function (line) {
        if (!line || line.charAt(0) === ":") { return; }
        var colon = line.indexOf(":");
        var field = colon < 0 ? line : line.slice(0, colon);
        var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") { name = value; } else if (field === "data") { data.push(value); }
      });
      if (!data.length) { return; }
      var text = data.join("\n");
      var parsed = text;
      try { parsed = JSON.parse(text); } catch (e) { /* plain text */ }
      emit(name, parsed);
    });
    return tail;
  }

  function open(url, handlers) {
    var closed = false;
    var pause = FIRST_PAUSE_MS;
    var controller = null;
    var timer = null;

    function state(value) { if (handlers.state) { handlers.state(value); } }

    function retry() {
      if (closed) { return; }
      state("waiting");
      timer = setTimeout(connect, pause);
      pause = Math.min(pause * 2, LONGEST_PAUSE_MS);
    }

    function connect() {
      if (closed) { return; }
      controller = new AbortController();
      state("connecting");
      global.AntoanAuth.authorisedFetch(url, { headers: { Accept: "text/event-stream" }, signal: controller.signal })
        .then(function (response) {
          if (response.status === 404 || response.status === 405) {
            closed = true;
            state("closed");
            if (handlers.missing) { handlers.missing(response.status); }
            return null;
          }
          if (!response.ok || !response.body) { throw new Error("stream answered " + response.status); }
          state("open");
          var reader = response.body.getReader();
          var decoder = new TextDecoder();
          var buffer = "";
          function read() {
            return reader.read().then(function (chunk) {
              if (chunk.done) { return null; }
              buffer = parse(buffer + decoder.decode(chunk.value, { stream: true }), function (name, data) {
                pause = FIRST_PAUSE_MS;
                handlers.event(name, data);
              });
              return read();
            });
          }
          return read().then(retry);
        })
        .catch(function (error) {
          if (closed) { return; }
          if (global.AntoanAuth.isAuthError(error)) { closed = true; state("closed"); return; }
          retry();
        });
    }

    connect();
    return {
      close: function () {
        closed = true;
        clearTimeout(timer);
        if (controller) { controller.abort(); }
        state("closed");
      }
    };
  }

  global.AntoanSse = { open: open, parse: parse };
})(self);
