/*
 * hermes.js: an EventSource-like client for Mercure hubs whose tabs of one
 * origin share one connection to the hub. MIT licence, part of Hermes.
 *
 * Served by the hub at /.well-known/mercure/hermes.js; this file
 * (hub/ui/static/hermes.js in the Hermes repository) is the one to copy into
 * a bundle. Plain script, no dependencies, no build step.
 *
 *   const es = new HermesEventSource({ topics: ['https://example.com/books/1'] });
 *   // or new HermesEventSource('https://hub.example/.well-known/mercure?topic=...', { token })
 *   es.onmessage = (e) => console.log(e.lastEventId, e.data, e.matched);
 *   es.addEventListener('book.updated', (e) => ...);
 *   es.onevent = (e) => ...; // every event, whatever its type (an extension)
 *   es.close();
 *
 * How the tabs share one stream (see the README, "One connection for all
 * tabs"):
 *  - with SharedWorker (this same file is the worker script, so it must be
 *    loaded from the page's origin), the worker holds the stream;
 *  - otherwise one tab, elected with the Web Locks API, holds it and relays
 *    over a BroadcastChannel; when it closes the next tab takes over;
 *  - otherwise, or with { shared: false }, each instance has its own stream.
 * The stream subscribes to the union of every instance's topics and asks the
 * hub (hermes_annotate=1) to say, per update, which of its topic parameters
 * matched: each update goes only to the instances that asked for one of
 * them. The stream is read with fetch(), so a token goes in the
 * Authorization header, and is reopened (a topic added or removed, the tab
 * holding it closed, the network dropped) from the last event id it saw.
 */
(function (global) {
  'use strict';

  var ANNOTATE = 'hermes_annotate';
  var SELECTOR_PARAMS = ['topic', 'match', 'match_exact', 'match_urlpattern'];
  var CONNECTING = 0, OPEN = 1, CLOSED = 2;
  var REOPEN_DELAY = 30; // ms: coalesces the changes of tabs opening together
  var MAX_BACKOFF = 30000;
  var SEEN_IDS = 512; // per instance, against a repeat across a leader change

  function uid() {
    if (global.crypto && global.crypto.randomUUID) return global.crypto.randomUUID();
    return String(Date.now()) + '-' + Math.random().toString(36).slice(2);
  }

  // --- SSE parsing (https://html.spec.whatwg.org/#event-stream-interpretation)

  // readSSE reads a fetch() body and calls on.event({type, data, id,
  // matches}) per event, on.cursor(id) per ":cursor" comment. matches is
  // the list of parameter positions of a ":matches" comment, or null.
  function readSSE(body, on, isCurrent) {
    var reader = body.getReader();
    var decoder = new TextDecoder();
    var buf = '';
    var data = null, type = '', id = null, matches = null;
    function line(l) {
      if (l === '') {
        if (data !== null) {
          on.event({ type: type || 'message', data: data, id: id, matches: matches });
        }
        data = null; type = ''; matches = null;
        return;
      }
      var colon = l.indexOf(':');
      var field = colon < 0 ? l : l.slice(0, colon);
      var value = colon < 0 ? '' : l.slice(colon + 1);
      if (value.charAt(0) === ' ') value = value.slice(1);
      if (field === '') {
        // A comment: the hub's annotations.
        if (value.indexOf('matches') === 0) {
          matches = value.slice(7).split(' ').filter(Boolean).map(Number);
        } else if (value.indexOf('cursor ') === 0) {
          on.cursor(value.slice(7));
        }
        return;
      }
      switch (field) {
        case 'data': data = data === null ? value : data + '\n' + value; break;
        case 'event': type = value; break;
        case 'id': if (value.indexOf('\0') < 0) id = value; break;
        case 'retry': if (/^\d+$/.test(value)) on.retry(Number(value)); break;
      }
    }
    function pump() {
      return reader.read().then(function (r) {
        if (!isCurrent()) { reader.cancel().catch(function () {}); return; }
        if (r.done) return;
        buf += decoder.decode(r.value, { stream: true });
        var start = 0;
        for (var i = 0; i < buf.length; i++) {
          var c = buf.charCodeAt(i);
          if (c !== 10 && c !== 13) continue;
          if (c === 13 && i + 1 === buf.length) break; // CR LF may be split
          line(buf.slice(start, i));
          if (c === 13 && buf.charCodeAt(i + 1) === 10) i++;
          start = i + 1;
          if (!isCurrent()) return;
        }
        buf = buf.slice(start);
        return pump();
      });
    }
    return pump();
  }

  // --- The shared stream ---------------------------------------------------

  // A Stream is one connection to the hub for every instance (client) with
  // the same hub URL and credentials. sink receives what clients must see:
  //   sink.open(key, clientIds), sink.error(key, clientIds, fatal, status),
  //   sink.event(key, ev, routes) with routes = [[clientId, matched], ...],
  //   sink.cursor(key, id)
  function Stream(key, spec, sink) {
    this.key = key;
    this.spec = spec; // {hub, token, withCredentials}
    this.sink = sink;
    this.clients = new Map(); // clientId -> {params: [[name, value]], opened}
    this.params = []; // [[name, value]] of the open connection
    this.cursor = null;
    this.gen = 0;
    this.controller = null;
    this.timer = null;
    this.backoff = 0;
    this.retry = 1000;
    this.warned = false;
    this.live = false;
  }

  Stream.prototype.add = function (clientId, params) {
    this.clients.set(clientId, { params: params, opened: false });
    this.schedule(REOPEN_DELAY);
  };

  Stream.prototype.remove = function (clientId) {
    if (!this.clients.delete(clientId)) return;
    if (this.clients.size === 0) { this.stop(); return; }
    this.schedule(REOPEN_DELAY);
  };

  // union is the connection's parameters: every client's, once each, in a
  // stable order so that an unchanged set does not reopen the stream.
  Stream.prototype.union = function () {
    var seen = new Set(), out = [];
    this.clients.forEach(function (c) {
      c.params.forEach(function (p) {
        var k = p[0] + '\n' + p[1];
        if (!seen.has(k)) { seen.add(k); out.push(p); }
      });
    });
    return out.sort(function (a, b) {
      var x = a[0] + '\n' + a[1], y = b[0] + '\n' + b[1];
      return x < y ? -1 : x > y ? 1 : 0;
    });
  };

  Stream.prototype.schedule = function (delay) {
    var self = this;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(function () { self.timer = null; self.sync(); }, delay);
  };

  // sync opens the stream, or reopens it when the parameters changed.
  Stream.prototype.sync = function () {
    var want = this.union();
    if (this.controller && JSON.stringify(want) === JSON.stringify(this.params)) {
      this.openNew();
      return;
    }
    this.connect(want);
  };

  // openNew tells clients added since the connection opened that it is.
  Stream.prototype.openNew = function () {
    if (!this.live) return;
    var ids = [];
    this.clients.forEach(function (c, id) { if (!c.opened) { c.opened = true; ids.push(id); } });
    if (ids.length) this.sink.open(this.key, ids);
  };

  Stream.prototype.stop = function () {
    this.gen++;
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    if (this.controller) { this.controller.abort(); this.controller = null; }
    this.live = false;
  };

  Stream.prototype.connect = function (params) {
    var self = this;
    this.stop();
    if (params.length === 0) return;
    var gen = this.gen;
    var controller = new AbortController();
    this.controller = controller;
    this.params = params;
    var url = new URL(this.spec.hub);
    params.forEach(function (p) { url.searchParams.append(p[0], p[1]); });
    url.searchParams.set(ANNOTATE, '1');
    // The cursor as a query parameter: a Last-Event-ID header would need a
    // CORS preflight.
    if (this.cursor !== null) url.searchParams.set('last_event_id', this.cursor);
    var headers = { Accept: 'text/event-stream' };
    if (this.spec.token) headers.Authorization = 'Bearer ' + this.spec.token;
    var current = function () { return self.gen === gen; };
    fetch(url.toString(), {
      headers: headers,
      credentials: this.spec.withCredentials ? 'include' : 'same-origin',
      cache: 'no-store',
      signal: controller.signal,
    }).then(function (resp) {
      if (!current()) return;
      var ct = resp.headers.get('Content-Type') || '';
      if (!resp.ok || ct.indexOf('text/event-stream') !== 0) {
        // As EventSource: a refusal ends the stream for good, except the
        // statuses that say "later".
        var fatal = resp.status !== 429 && resp.status !== 503 && resp.status < 500;
        var e = new Error('hub answered ' + resp.status);
        e.status = resp.status;
        e.fatal = fatal;
        throw e;
      }
      self.backoff = 0;
      self.live = true;
      self.openNew();
      return readSSE(resp.body, {
        event: function (ev) { self.dispatch(ev); },
        cursor: function (id) { self.cursor = id; self.sink.cursor(self.key, id); },
        retry: function (ms) { self.retry = ms; },
      }, current).then(function () {
        if (current()) throw new Error('the hub ended the stream');
      });
    }).catch(function (err) {
      if (!current()) return;
      self.live = false;
      var ids = Array.from(self.clients.keys());
      if (err && err.fatal) {
        self.stop();
        self.sink.error(self.key, ids, true, err.status);
        return;
      }
      self.sink.error(self.key, ids, false, err && err.status || 0);
      // Reconnect after the hub's retry, backing off while it fails, with
      // jitter so that a restarted hub is not hit by every client at once.
      self.backoff = Math.min(MAX_BACKOFF, self.backoff ? self.backoff * 2 : self.retry);
      self.controller = null;
      self.schedule(self.backoff * (0.5 + Math.random() / 2));
    });
  };

  // dispatch routes one event to the clients one of whose parameters it
  // matched. Without the hub's annotation (not a Hermes hub) every client
  // gets it.
  Stream.prototype.dispatch = function (ev) {
    if (ev.id !== null) this.cursor = ev.id;
    var params = this.params, routes = [];
    var hit = null;
    if (ev.matches) {
      hit = new Set();
      ev.matches.forEach(function (i) { if (params[i]) hit.add(params[i][0] + '\n' + params[i][1]); });
    } else if (!this.warned) {
      this.warned = true;
      if (global.console) console.warn('hermes.js: the hub does not annotate events; every instance gets every update');
    }
    this.clients.forEach(function (c, id) {
      var matched = [];
      c.params.forEach(function (p) {
        if (hit === null || hit.has(p[0] + '\n' + p[1])) matched.push(p[1]);
      });
      if (matched.length) routes.push([id, matched]);
    });
    this.sink.event(this.key, { type: ev.type, data: ev.data, id: ev.id === null ? '' : ev.id }, routes);
  };

  // Streams holds the streams of one owner (the worker, the leader tab, or
  // a page without sharing), by key.
  function Streams(sink) {
    this.sink = sink;
    this.byKey = new Map();
    this.keyOf = new Map(); // clientId -> key
    this.cursors = new Map(); // key -> cursor, kept when a stream is gone
  }

  // add registers a client. A new stream starts from the cursor relayed by
  // a previous leader, else from the client's own lastEventId, else live.
  Streams.prototype.add = function (clientId, key, spec, params, last) {
    var s = this.byKey.get(key);
    if (!s) {
      s = new Stream(key, spec, this.sink);
      if (this.cursors.has(key)) s.cursor = this.cursors.get(key);
      else if (last) s.cursor = last;
      this.byKey.set(key, s);
    }
    this.keyOf.set(clientId, key);
    s.add(clientId, params);
  };

  Streams.prototype.remove = function (clientId) {
    var key = this.keyOf.get(clientId);
    if (key === undefined) return;
    this.keyOf.delete(clientId);
    var s = this.byKey.get(key);
    if (!s) return;
    s.remove(clientId);
    if (s.clients.size === 0) {
      // Nobody is left to miss anything: a later client starts live.
      this.cursors.delete(key);
      this.byKey.delete(key);
    }
  };

  Streams.prototype.setCursor = function (key, id) {
    this.cursors.set(key, id);
  };

  // --- In the SharedWorker -------------------------------------------------

  function runWorker() {
    var ports = new Map(); // tabId -> port
    var owner = new Map(); // clientId -> tabId
    var tabClients = new Map(); // tabId -> Set(clientId)
    var post = function (clientId, msg) {
      var port = ports.get(owner.get(clientId));
      if (port) { msg.client = clientId; port.postMessage(msg); }
    };
    var streams = new Streams({
      open: function (key, ids) { ids.forEach(function (id) { post(id, { op: 'open' }); }); },
      error: function (key, ids, fatal, status) {
        ids.forEach(function (id) { post(id, { op: 'error', fatal: fatal, status: status }); });
      },
      event: function (key, ev, routes) {
        routes.forEach(function (r) { post(r[0], { op: 'event', ev: ev, matched: r[1] }); });
      },
      cursor: function () {},
    });
    function dropTab(tabId) {
      (tabClients.get(tabId) || new Set()).forEach(function (id) { streams.remove(id); owner.delete(id); });
      tabClients.delete(tabId);
      ports.delete(tabId);
    }
    global.onconnect = function (e) {
      var port = e.ports[0];
      port.onmessage = function (m) {
        var msg = m.data;
        switch (msg.op) {
          case 'hello':
            ports.set(msg.tab, port);
            if (!tabClients.has(msg.tab)) tabClients.set(msg.tab, new Set());
            // The tab holds a lock for its life: getting it means the tab
            // is gone (ports give no close event).
            if (global.navigator && navigator.locks) {
              navigator.locks.request('hermes-tab:' + msg.tab, function () { dropTab(msg.tab); });
            }
            break;
          case 'sub':
            if (!ports.has(msg.tab)) break; // the tab is gone already
            owner.set(msg.client, msg.tab);
            tabClients.get(msg.tab).add(msg.client);
            streams.add(msg.client, msg.key, msg.spec, msg.params, msg.last);
            break;
          case 'unsub':
            streams.remove(msg.client);
            owner.delete(msg.client);
            if (tabClients.has(msg.tab)) tabClients.get(msg.tab).delete(msg.client);
            break;
          case 'bye':
            dropTab(msg.tab);
            break;
        }
      };
      port.start();
    };
  }

  if (typeof global.SharedWorkerGlobalScope !== 'undefined' && global instanceof global.SharedWorkerGlobalScope) {
    runWorker();
    return;
  }
  if (typeof global.document === 'undefined') return;

  // --- In a page -----------------------------------------------------------

  var scriptURL = global.document.currentScript ? global.document.currentScript.src : '';
  var tabId = uid();
  var clients = new Map(); // clientId -> HermesEventSource, this tab's
  var backend = null; // chosen on first use

  // tabReady resolves once this tab holds its life lock, which others wait
  // for to learn that it closed.
  var tabReady = null;
  function holdTabLock() {
    if (tabReady) return tabReady;
    tabReady = new Promise(function (resolve) {
      if (!global.navigator || !navigator.locks) { resolve(); return; }
      navigator.locks.request('hermes-tab:' + tabId, function () {
        resolve();
        return new Promise(function () {}); // held until the tab goes
      });
    });
    return tabReady;
  }

  // deliver hands one event to a local instance, once: an event seen twice
  // (replayed by a new leader while the old one's copy was in flight) is
  // dropped by id.
  function deliver(clientId, ev, matched) {
    var es = clients.get(clientId);
    if (es) es._event(ev, matched);
  }

  function SharedWorkerBackend(worker) {
    this.port = worker.port;
    this.port.onmessage = function (m) {
      var msg = m.data, es = clients.get(msg.client);
      if (!es) return;
      if (msg.op === 'open') es._open();
      else if (msg.op === 'error') es._error(msg.fatal, msg.status);
      else if (msg.op === 'event') es._event(msg.ev, msg.matched);
    };
    this.port.start();
  }
  SharedWorkerBackend.prototype.mode = 'shared-worker';
  // start runs once the tab holds its life lock, before any sub.
  SharedWorkerBackend.prototype.start = function () {
    var port = this.port;
    port.postMessage({ op: 'hello', tab: tabId });
    global.addEventListener('pagehide', function () { port.postMessage({ op: 'bye', tab: tabId }); });
  };
  SharedWorkerBackend.prototype.sub = function (c) {
    this.port.postMessage({ op: 'sub', tab: tabId, client: c.id, key: c.key, spec: c.spec, params: c.params, last: c.last });
  };
  SharedWorkerBackend.prototype.unsub = function (c) {
    this.port.postMessage({ op: 'unsub', tab: tabId, client: c.id });
  };

  // LeaderBackend: every tab keeps the table of every tab's subscriptions
  // (announced over the channel), so that whichever tab wins the leader
  // lock can open the stream for all of them at once, from the last cursor
  // relayed to it.
  function LeaderBackend() {
    var self = this;
    this.channel = new BroadcastChannel('hermes.js');
    this.table = new Map(); // clientId -> {tab, key, spec, params}
    this.cursors = new Map(); // key -> last event id relayed
    this.watched = new Set();
    this.streams = null; // set while this tab is the leader
    this.channel.onmessage = function (m) { self.receive(m.data); };
  }
  LeaderBackend.prototype.mode = 'leader';
  // start runs once the tab holds its life lock, before any sub.
  LeaderBackend.prototype.start = function () {
    var self = this;
    this.channel.postMessage({ op: 'hello', tab: tabId });
    navigator.locks.request('hermes.js-leader', function () {
      self.lead();
      return new Promise(function () {});
    });
  };

  LeaderBackend.prototype.sub = function (c) {
    var msg = { op: 'sub', tab: tabId, client: c.id, key: c.key, spec: c.spec, params: c.params, last: c.last };
    this.channel.postMessage(msg);
    this.receive(msg);
  };
  LeaderBackend.prototype.unsub = function (c) {
    var msg = { op: 'unsub', tab: tabId, client: c.id };
    this.channel.postMessage(msg);
    this.receive(msg);
  };

  LeaderBackend.prototype.watch = function (tab) {
    var self = this;
    if (tab === tabId || this.watched.has(tab)) return;
    this.watched.add(tab);
    navigator.locks.request('hermes-tab:' + tab, function () {
      self.watched.delete(tab);
      self.table.forEach(function (e, id) { if (e.tab === tab) self.receive({ op: 'unsub', tab: tab, client: id }); });
    });
  };

  LeaderBackend.prototype.receive = function (msg) {
    var self = this;
    switch (msg.op) {
      case 'hello':
        // A new tab: tell it our subscriptions, and the cursors we know.
        clients.forEach(function (es) {
          var c = es._c;
          if (!es._closed) self.channel.postMessage({ op: 'sub', tab: tabId, client: c.id, key: c.key, spec: c.spec, params: c.params, last: c.last });
        });
        if (this.streams) this.cursors.forEach(function (id, key) { self.channel.postMessage({ op: 'cursor', key: key, id: id }); });
        this.watch(msg.tab);
        break;
      case 'sub':
        this.table.set(msg.client, msg);
        this.watch(msg.tab);
        if (this.streams) this.streams.add(msg.client, msg.key, msg.spec, msg.params, msg.last);
        break;
      case 'unsub': {
        var gone = this.table.get(msg.client);
        this.table.delete(msg.client);
        if (this.streams) this.streams.remove(msg.client);
        // Nobody left on that stream: a later one starts live.
        if (gone && !Array.from(this.table.values()).some(function (e) { return e.key === gone.key; })) this.cursors.delete(gone.key);
        break;
      }
      case 'cursor':
        if (!this.streams) this.cursors.set(msg.key, msg.id);
        break;
      case 'event':
        if (!this.streams && msg.ev.id) this.cursors.set(msg.key, msg.ev.id);
        msg.routes.forEach(function (r) { deliver(r[0], msg.ev, r[1]); });
        break;
      case 'state':
        msg.ids.forEach(function (id) {
          var es = clients.get(id);
          if (!es) return;
          if (msg.open) es._open(); else es._error(msg.fatal, msg.status);
        });
        break;
    }
  };

  // lead runs once this tab holds the leader lock: it opens the streams for
  // the whole table, from the last cursors relayed by the previous leader.
  LeaderBackend.prototype.lead = function () {
    var self = this;
    var relay = function (msg) { self.channel.postMessage(msg); self.receive(msg); };
    this.streams = new Streams({
      open: function (key, ids) { relay({ op: 'state', open: true, ids: ids }); },
      error: function (key, ids, fatal, status) { relay({ op: 'state', open: false, ids: ids, fatal: fatal, status: status }); },
      event: function (key, ev, routes) {
        self.cursors.set(key, ev.id);
        relay({ op: 'event', key: key, ev: ev, routes: routes });
      },
      cursor: function (key, id) { self.cursors.set(key, id); self.channel.postMessage({ op: 'cursor', key: key, id: id }); },
    });
    this.cursors.forEach(function (id, key) { self.streams.setCursor(key, id); });
    this.table.forEach(function (e, id) { self.streams.add(id, e.key, e.spec, e.params, e.last); });
  };

  // DirectBackend: this page's own stream per instance key.
  function DirectBackend() {
    this.streams = new Streams({
      open: function (key, ids) { ids.forEach(function (id) { var es = clients.get(id); if (es) es._open(); }); },
      error: function (key, ids, fatal, status) { ids.forEach(function (id) { var es = clients.get(id); if (es) es._error(fatal, status); }); },
      event: function (key, ev, routes) { routes.forEach(function (r) { deliver(r[0], ev, r[1]); }); },
      cursor: function () {},
    });
  }
  DirectBackend.prototype.mode = 'direct';
  DirectBackend.prototype.start = function () {};
  DirectBackend.prototype.sub = function (c) { this.streams.add(c.id, c.key, c.spec, c.params, c.last); };
  DirectBackend.prototype.unsub = function (c) { this.streams.remove(c.id); };

  function chooseBackend(opts) {
    if (opts.shared === false) return new DirectBackend();
    if (backend) return backend;
    var workerURL = opts.workerURL || scriptURL;
    if (typeof global.SharedWorker === 'function' && workerURL) {
      try {
        // Throws for a script of another origin: then the fallbacks.
        backend = new SharedWorkerBackend(new global.SharedWorker(workerURL, { name: 'hermes.js' }));
      } catch (e) { backend = null; }
    }
    if (!backend && typeof global.BroadcastChannel === 'function' && global.navigator && navigator.locks) {
      backend = new LeaderBackend();
    }
    if (!backend) backend = new DirectBackend();
    var b = backend;
    // The tab's life lock first: others learn from it that the tab closed.
    holdTabLock().then(function () { b.start(); });
    return backend;
  }

  // HermesEventSource(urlOrOptions, opts): urlOrOptions is a hub URL with
  // topic= / match= / match_urlpattern= parameters, or
  // {hub, topics, match, matchURLPattern}; hub defaults to
  // /.well-known/mercure on the origin this script came from.
  // opts: {token, withCredentials, shared (default true), workerURL,
  // lastEventId}.
  function HermesEventSource(target, opts) {
    var et = new EventTarget();
    this._et = et;
    opts = opts || {};
    var params = [], hub;
    if (typeof target === 'string') {
      var u = new URL(target, global.location.href);
      SELECTOR_PARAMS.forEach(function (n) {
        u.searchParams.getAll(n).forEach(function (v) { params.push([n, v]); });
        u.searchParams.delete(n);
      });
      hub = u.toString();
    } else {
      target = target || {};
      hub = new URL(target.hub || '/.well-known/mercure', scriptURL || global.location.href).toString();
      (target.topics || []).forEach(function (v) { params.push(['topic', v]); });
      (target.match || []).forEach(function (v) { params.push(['match', v]); });
      (target.matchURLPattern || []).forEach(function (v) { params.push(['match_urlpattern', v]); });
    }
    if (params.length === 0) throw new TypeError('HermesEventSource: no topic');
    var spec = { hub: hub, token: opts.token || '', withCredentials: !!opts.withCredentials };
    this.url = hub;
    this.withCredentials = spec.withCredentials;
    this.readyState = CONNECTING;
    this.lastEventId = opts.lastEventId || '';
    this.onopen = this.onmessage = this.onerror = this.onevent = null;
    this._closed = false;
    this._seen = [];
    this._seenSet = new Set();
    this._c = { id: uid(), key: JSON.stringify([hub, spec.token, spec.withCredentials]), spec: spec, params: params, last: this.lastEventId };
    clients.set(this._c.id, this);
    var self = this;
    this._backend = chooseBackend(opts);
    this.mode = this._backend.mode;
    holdTabLock().then(function () { if (!self._closed) self._backend.sub(self._c); });
  }

  HermesEventSource.CONNECTING = HermesEventSource.prototype.CONNECTING = CONNECTING;
  HermesEventSource.OPEN = HermesEventSource.prototype.OPEN = OPEN;
  HermesEventSource.CLOSED = HermesEventSource.prototype.CLOSED = CLOSED;

  HermesEventSource.prototype.addEventListener = function (t, l, o) { this._et.addEventListener(t, l, o); };
  HermesEventSource.prototype.removeEventListener = function (t, l, o) { this._et.removeEventListener(t, l, o); };
  HermesEventSource.prototype.dispatchEvent = function (e) {
    var h = this['on' + e.type];
    if (typeof h === 'function' && (e.type === 'open' || e.type === 'error' || e.type === 'message')) h.call(this, e);
    return this._et.dispatchEvent(e);
  };

  HermesEventSource.prototype.close = function () {
    if (this._closed) return;
    this._closed = true;
    this.readyState = CLOSED;
    clients.delete(this._c.id);
    this._backend.unsub(this._c);
  };

  HermesEventSource.prototype._open = function () {
    if (this._closed || this.readyState === OPEN) return;
    this.readyState = OPEN;
    this.dispatchEvent(new Event('open'));
  };

  HermesEventSource.prototype._error = function (fatal, status) {
    if (this._closed) return;
    if (fatal) {
      this._closed = true;
      clients.delete(this._c.id);
      this._backend.unsub(this._c);
    }
    this.readyState = fatal ? CLOSED : CONNECTING;
    var e = new Event('error');
    e.status = status;
    this.dispatchEvent(e);
  };

  HermesEventSource.prototype._event = function (ev, matched) {
    if (this._closed) return;
    if (ev.id) {
      if (this._seenSet.has(ev.id)) return;
      this._seenSet.add(ev.id);
      this._seen.push(ev.id);
      if (this._seen.length > SEEN_IDS) this._seenSet.delete(this._seen.shift());
      this.lastEventId = ev.id;
    }
    if (this.readyState !== OPEN) this._open();
    var e = new MessageEvent(ev.type, { data: ev.data, lastEventId: ev.id, origin: new URL(this.url).origin });
    Object.defineProperty(e, 'matched', { value: matched.slice() });
    // onevent (not in EventSource) sees every event whatever its type.
    if (typeof this.onevent === 'function') this.onevent.call(this, e);
    this.dispatchEvent(e);
  };

  // holdsConnection reports whether this tab holds the shared stream (the
  // elected leader, or a page that shares nothing); false with a
  // SharedWorker, which holds it.
  HermesEventSource.holdsConnection = function () {
    if (!backend) return false;
    return backend.mode === 'leader' ? backend.streams !== null : backend.mode === 'direct';
  };

  global.HermesEventSource = HermesEventSource;
})(typeof self !== 'undefined' ? self : this);
