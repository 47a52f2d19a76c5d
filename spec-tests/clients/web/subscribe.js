// Subscribes to the hub with the clients a web application uses, as the
// Go test configured them, and reports every event back to the page's own
// server, which is where the test reads them.
//
// The configuration comes from /config/<page>, <page> being the last
// segment of this page's path:
//   {
//     "hub": "http://127.0.0.1:PORT/.well-known/mercure",
//     "subscriptions": [{
//       "name": "cookie",
//       "client": "native" | "polyfill" | "fetch" | "hermes",
//                  (hermes: hermes.js's HermesEventSource, which reports
//                  {"event": "mode", "message": "shared-worker" | "leader"}
//                  first)
//       "topics": ["https://example.com/books/{id}"],
//       "withCredentials": true,   (native, polyfill)
//       "token": "...",            (polyfill, fetch: an Authorization header)
//       "types": ["book.updated"]  (event names besides "message")
//     }],
//     "probes": [{"name": "...", "topics": [...], "token": "..."}]
//   }
// A probe is one credentialed fetch() of the hub that reports whether the
// browser let the page read the response (CORS).
import { fetchEventSource } from '/node_modules/@microsoft/fetch-event-source/lib/esm/index.js';

const page = location.pathname.split('/').pop();

// Reports leave one after the other, so that the server receives them in
// the order they happened; seq numbers them per subscription as well.
let queue = Promise.resolve();
const seqs = new Map();
function report(sub, fields) {
  const seq = (seqs.get(sub) ?? 0) + 1;
  seqs.set(sub, seq);
  const body = JSON.stringify({ page, sub, seq, ...fields });
  queue = queue
    .then(() => fetch('/report', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }))
    .catch((err) => console.error(`report of ${sub} #${seq} failed: ${err}`));
}

function subscriptionURL(hub, topics) {
  const url = new URL(hub);
  for (const topic of topics) {
    url.searchParams.append('topic', topic);
  }
  return url;
}

// EventSource and the polyfill share one interface.
function listen(sub, es) {
  const onEvent = (e) => report(sub.name, { event: 'message', type: e.type, id: e.lastEventId, data: e.data });
  es.addEventListener('open', () => report(sub.name, { event: 'open' }));
  es.addEventListener('error', () => report(sub.name, { event: 'error', readyState: es.readyState }));
  es.addEventListener('message', onEvent);
  for (const type of sub.types ?? []) {
    es.addEventListener(type, onEvent);
  }
}

function subscribeNative(hub, sub) {
  // The browser's own EventSource: no headers, so a private subscription
  // is authorized by the mercureAuthorization cookie, which
  // withCredentials sends across origins.
  listen(sub, new EventSource(subscriptionURL(hub, sub.topics), { withCredentials: Boolean(sub.withCredentials) }));
}

function subscribePolyfill(hub, sub) {
  const headers = sub.token ? { Authorization: `Bearer ${sub.token}` } : {};
  listen(
    sub,
    new window.EventSourcePolyfill(subscriptionURL(hub, sub.topics).toString(), {
      headers,
      withCredentials: Boolean(sub.withCredentials),
    }),
  );
}

function subscribeFetch(hub, sub) {
  const headers = sub.token ? { Authorization: `Bearer ${sub.token}` } : {};
  fetchEventSource(subscriptionURL(hub, sub.topics).toString(), {
    headers,
    openWhenHidden: true,
    async onopen(response) {
      const type = response.headers.get('content-type') ?? '';
      if (!response.ok || !type.startsWith('text/event-stream')) {
        report(sub.name, { event: 'error', status: response.status });
        throw new Error(`unexpected response ${response.status} ${type}`);
      }
      report(sub.name, { event: 'open' });
    },
    onmessage(msg) {
      report(sub.name, { event: 'message', type: msg.event || 'message', id: msg.id, data: msg.data });
    },
    onclose() {
      // The library treats a stream the server ended as final. The hub
      // ends streams when it stops and when --write-timeout is reached,
      // so throwing here is what makes the library reconnect (with the
      // last-event-id header).
      throw new Error('stream ended by the hub');
    },
    onerror(err) {
      report(sub.name, { event: 'error', message: String(err) });
      // Returning nothing retries after the stream's retry interval.
    },
  });
}

function subscribeHermes(hub, sub) {
  const es = new window.HermesEventSource(subscriptionURL(hub, sub.topics).toString(), {
    token: sub.token,
    withCredentials: Boolean(sub.withCredentials),
  });
  report(sub.name, { event: 'mode', message: es.mode });
  listen(sub, es);
  // For the test: window.hermes[name] is the instance.
  (window.hermes ??= {})[sub.name] = es;
}

async function probe(hub, p) {
  const init = { credentials: 'include' };
  if (p.token) {
    init.headers = { Authorization: `Bearer ${p.token}` };
  }
  const controller = new AbortController();
  init.signal = controller.signal;
  try {
    const response = await fetch(subscriptionURL(hub, p.topics), init);
    report(p.name, { event: 'probe', ok: true, status: response.status });
    controller.abort(); // the stream never ends by itself
  } catch (err) {
    report(p.name, { event: 'probe', ok: false, message: String(err) });
  }
}

const clients = { native: subscribeNative, polyfill: subscribePolyfill, fetch: subscribeFetch, hermes: subscribeHermes };

const config = await (await fetch(`/config/${encodeURIComponent(page)}`)).json();
for (const sub of config.subscriptions ?? []) {
  const subscribe = clients[sub.client];
  if (!subscribe) {
    report(sub.name, { event: 'error', message: `unknown client ${sub.client}` });
    continue;
  }
  subscribe(config.hub, sub);
}
for (const p of config.probes ?? []) {
  probe(config.hub, p);
}
