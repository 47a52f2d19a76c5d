// A Node.js subscriber built on the `eventsource` npm package, as a
// server-side consumer of a Mercure hub uses it.
//
//   node subscribe.mjs '{"url": "...", "token": "...", "types": ["book.updated"]}'
//
// url    the full subscription URL (topics, cursor query parameters)
// token  optional; sent as "Authorization: Bearer <token>" on every
//        request, reconnections included
// types  event names to listen for besides the default "message"
//
// Every event becomes one JSON line on standard output:
//   {"event": "open"}
//   {"event": "message", "type": "...", "id": "...", "data": "..."}
//   {"event": "error", "message": "...", "code": 401, "readyState": 0}
// The process ends when its standard input closes.
import { EventSource } from 'eventsource';

function emit(line) {
  process.stdout.write(JSON.stringify(line) + '\n');
}

let config;
try {
  config = JSON.parse(process.argv[2] ?? '');
} catch (err) {
  process.stderr.write(`subscribe.mjs: the argument is not JSON: ${err.message}\n`);
  process.exit(2);
}
if (typeof config.url !== 'string') {
  process.stderr.write('subscribe.mjs: "url" is required\n');
  process.exit(2);
}

const init = {};
if (config.token) {
  // The package has no headers option: requests go through a fetch
  // function, which is where an Authorization header is added. It is
  // called again for every reconnection, so the header is never lost.
  init.fetch = (input, options) =>
    fetch(input, {
      ...options,
      headers: { ...options.headers, Authorization: `Bearer ${config.token}` },
    });
}

const es = new EventSource(config.url, init);
es.addEventListener('open', () => emit({ event: 'open' }));
es.addEventListener('error', (e) =>
  emit({ event: 'error', message: e.message ?? '', code: e.code ?? 0, readyState: es.readyState }),
);
const report = (e) => emit({ event: 'message', type: e.type, id: e.lastEventId, data: e.data });
es.addEventListener('message', report);
for (const type of config.types ?? []) {
  es.addEventListener(type, report);
}

// The Go test closes standard input to stop the subscriber.
process.stdin.resume();
process.stdin.on('end', () => {
  es.close();
  process.exit(0);
});
