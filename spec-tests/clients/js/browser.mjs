// Drives Debian's Chromium, headless, with playwright-core: never a browser
// that Playwright would download.
//
//   node browser.mjs            (commands on standard input, one JSON per line)
//
// Commands:
//   {"open": "<url>", "name": "<page name>"}   open the URL in a new tab
// Replies and page diagnostics, one JSON line each on standard output:
//   {"opened": "<name>", "status": 200}
//   {"failed": "<name>", "error": "..."}       a command could not be done
//   {"console": "<name>", "type": "log", "text": "..."}
//   {"pageerror": "<name>", "text": "..."}
//   {"response": "<name>", "url": "...", "protocol": "h2", "resourceType": "EventSource"}
//        every response a tab receives, with the protocol Chromium used
// CHROMIUM_EXTRA_ARGS, a JSON array, adds command-line flags (the TLS
// tests pass --ignore-certificate-errors-spki-list for their certificate).
// All tabs share one browser context, hence one cookie jar, like the tabs
// of one user. Closing standard input closes the browser and ends the
// process.
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';

function emit(line) {
  process.stdout.write(JSON.stringify(line) + '\n');
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  // playwright gives each launch a new, empty profile directory. The
  // flags keep Chromium from calling Google's services, which this
  // machine's closed network refuses, and let it run as root.
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    ...JSON.parse(process.env.CHROMIUM_EXTRA_ARGS ?? '[]'),
  ],
});
const context = await browser.newContext();

async function open(name, url) {
  const page = await context.newPage();
  page.on('console', (msg) => emit({ console: name, type: msg.type(), text: msg.text() }));
  page.on('pageerror', (err) => emit({ pageerror: name, text: String(err) }));
  page.on('requestfailed', (req) =>
    emit({ console: name, type: 'requestfailed', text: `${req.method()} ${req.url()}: ${req.failure()?.errorText}` }),
  );
  // The protocol of each response (h2, http/1.1) is only in the DevTools
  // protocol's events; playwright's own API does not expose it.
  const cdp = await context.newCDPSession(page);
  cdp.on('Network.responseReceived', (e) =>
    emit({ response: name, url: e.response.url, protocol: e.response.protocol, resourceType: e.type }),
  );
  await cdp.send('Network.enable');
  const response = await page.goto(url);
  emit({ opened: name, status: response ? response.status() : 0 });
}

// Commands run one after the other, in the order given.
let queue = Promise.resolve();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() === '') {
    return;
  }
  queue = queue.then(async () => {
    let cmd;
    try {
      cmd = JSON.parse(line);
      if (cmd.open !== undefined) {
        await open(cmd.name, cmd.open);
      } else {
        throw new Error('unknown command');
      }
    } catch (err) {
      emit({ failed: cmd?.name ?? line, error: String(err) });
    }
  });
});
lines.on('close', async () => {
  await queue;
  await browser.close();
  process.exit(0);
});
