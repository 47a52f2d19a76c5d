// Drives Debian's Chromium, headless, with playwright-core: never a browser
// that Playwright would download.
//
//   node browser.mjs            (commands on standard input, one JSON per line)
//
// Commands:
//   {"open": "<url>", "name": "<page name>"}   open the URL in a new tab
//       with "noSharedWorker": true the page has no SharedWorker (it is
//       removed before any script of the page runs)
//   {"fill": "<css selector>", "value": "...", "name": "<page>"}
//   {"click": "<css selector>", "name": "<page>"}
//   {"wait": "<JS expression>", "name": "<page>"}  until it is truthy (40 s)
//   {"eval": "<JS expression>", "name": "<page>"}  its JSON value
//   {"close": "<page>"}                          close the tab
// Replies and page diagnostics, one JSON line each on standard output:
//   {"opened": "<name>", "status": 200}
//   {"done": "<name>", "value": ...}           fill, click, wait, eval, close
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
const pages = new Map();

function page(name) {
  const p = pages.get(name);
  if (!p) throw new Error(`no page ${name}`);
  return p;
}

// waitFor polls expr until it is truthy. Not page.waitForFunction: that
// evaluates the string with eval() inside the page, which a strict
// Content-Security-Policy (the debug UI's) forbids; page.evaluate goes
// through the DevTools protocol, which CSP does not govern.
async function waitFor(page, expr) {
  const deadline = Date.now() + 40000;
  for (;;) {
    if (await page.evaluate(expr)) return;
    if (Date.now() > deadline) throw new Error(`still false after 40 s: ${expr}`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // polling interval
  }
}

async function open(name, url, noSharedWorker) {
  const page = await context.newPage();
  pages.set(name, page);
  if (noSharedWorker) {
    await page.addInitScript(() => {
      delete window.SharedWorker;
    });
  }
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
        await open(cmd.name, cmd.open, Boolean(cmd.noSharedWorker));
      } else if (cmd.fill !== undefined) {
        await page(cmd.name).fill(cmd.fill, cmd.value ?? '');
        emit({ done: cmd.name });
      } else if (cmd.click !== undefined) {
        await page(cmd.name).click(cmd.click);
        emit({ done: cmd.name });
      } else if (cmd.wait !== undefined) {
        await waitFor(page(cmd.name), cmd.wait);
        emit({ done: cmd.name });
      } else if (cmd.eval !== undefined) {
        emit({ done: cmd.name, value: await page(cmd.name).evaluate(cmd.eval) });
      } else if (cmd.close !== undefined) {
        await page(cmd.close).close({ runBeforeUnload: false });
        pages.delete(cmd.close);
        emit({ done: cmd.close });
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
