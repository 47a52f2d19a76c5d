// The Hermes debug UI. Plain script, no framework: everything the hub sends
// is written with textContent, never parsed as HTML.
'use strict';

(function () {
  const hub = new URL('..', location.href).href.replace(/\/$/, '');
  const $ = (id) => document.getElementById(id);
  const MAX_ROWS = 500;
  $('hub-url').textContent = hub;

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function lines(s) {
    return s.split('\n').map((l) => l.trim()).filter(Boolean);
  }
  function authHeaders(token) {
    token = token.trim();
    return token ? { Authorization: 'Bearer ' + token.replace(/^bearer\s+/i, '') } : {};
  }

  // --- Subscribe -----------------------------------------------------------

  function addUpdate(ev) {
    const tr = el('tr');
    tr.dataset.id = ev.lastEventId;
    tr.append(
      el('td', new Date().toLocaleTimeString()),
      el('td', ev.lastEventId),
      el('td', ev.type),
      el('td', (ev.matched || []).join('\n')),
      el('td', ev.data),
    );
    const body = $('updates');
    body.prepend(tr);
    while (body.rows.length > MAX_ROWS) body.deleteRow(-1);
  }

  $('sub-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const kind = $('sub-kind').value;
    const selectors = lines($('sub-selectors').value);
    if (selectors.length === 0) return;
    const url = new URL(hub);
    for (const s of selectors) url.searchParams.append(kind, s);
    const token = $('sub-token').value.trim().replace(/^bearer\s+/i, '');
    // shared: false: the UI's own connection, so that what it shows is
    // exactly this subscription.
    const es = new HermesEventSource(url.toString(), { token, shared: false });
    const li = el('li');
    li.className = 'ui-sub';
    const state = el('span', 'connecting', 'state');
    const close = el('button', 'Close');
    close.type = 'button';
    li.append(el('code', kind + '=' + selectors.join(' ' + kind + '=')), ' ', state, ' ', close);
    $('sub-list').append(li);
    es.onopen = () => { state.textContent = 'open'; state.className = 'state ok'; };
    es.onerror = (ev) => {
      state.textContent = es.readyState === es.CLOSED ? 'refused (' + (ev.status || 'network') + ')' : 'reconnecting';
      state.className = 'state bad';
    };
    es.onevent = addUpdate;
    close.addEventListener('click', () => { es.close(); li.remove(); });
  });
  $('updates-clear').addEventListener('click', () => { $('updates').replaceChildren(); });

  // --- Publish ---------------------------------------------------------------

  $('pub-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const form = new URLSearchParams();
    for (const t of lines($('pub-topics').value)) form.append('topic', t);
    form.set('data', $('pub-data').value);
    if ($('pub-id').value.trim()) form.set('id', $('pub-id').value.trim());
    if ($('pub-type').value.trim()) form.set('type', $('pub-type').value.trim());
    if ($('pub-private').checked) form.set('private', 'on');
    const result = $('pub-result');
    result.className = '';
    result.textContent = 'publishing…';
    try {
      const resp = await fetch(hub, { method: 'POST', headers: authHeaders($('pub-token').value), body: form });
      const text = await resp.text();
      result.textContent = resp.ok ? 'published, id ' + text : resp.status + ' ' + resp.statusText + ': ' + text.trim();
      result.className = resp.ok ? 'ok' : 'bad';
    } catch (err) {
      result.textContent = 'failed: ' + err;
      result.className = 'bad';
    }
  });

  // --- Active subscriptions ------------------------------------------------

  let watch = null;
  let loading = null;
  let again = false;

  async function loadSubscriptions(token) {
    if (loading) { again = true; return loading; }
    loading = (async () => {
      do {
        again = false;
        const status = $('subs-status');
        try {
          const resp = await fetch(hub + '/subscriptions', { headers: authHeaders(token), cache: 'no-store' });
          if (resp.status === 404) {
            status.textContent = 'the subscription API is off: start the hub with --subscriptions';
            status.className = 'bad';
            return;
          }
          if (!resp.ok) {
            status.textContent = resp.status + ' ' + resp.statusText + ': the token does not grant the subscription API';
            status.className = 'bad';
            return;
          }
          const doc = await resp.json();
          const rows = (doc.subscriptions || []).filter((s) => s.active !== false).map((s) => {
            const tr = el('tr');
            tr.className = 'subscription';
            tr.append(
              el('td', s.subscriber),
              el('td', s.match !== undefined ? s.match : s.topic),
              el('td', s.match_type !== undefined ? 'match ' + s.match_type : 'topic'),
            );
            return tr;
          });
          $('subs-list').replaceChildren(...rows);
          status.textContent = rows.length + ' active, live';
          status.className = 'ok';
        } catch (err) {
          status.textContent = 'failed: ' + err;
          status.className = 'bad';
        }
      } while (again);
    })();
    try { await loading; } finally { loading = null; }
  }

  $('subs-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('subs-token').value.trim().replace(/^bearer\s+/i, '');
    if (watch) watch.close();
    // Every change of the list is an update on a subscription topic: reload
    // the list on each (legacy and draft-08 topics).
    const url = new URL(hub);
    url.searchParams.append('topic', '/.well-known/mercure/subscriptions{/topic}{/subscriber}');
    url.searchParams.append('match_urlpattern', '/.well-known/mercure/subscriptions/*');
    watch = new HermesEventSource(url.toString(), { token, shared: false });
    watch.onopen = () => loadSubscriptions(token);
    watch.onevent = () => loadSubscriptions(token);
    watch.onerror = () => {
      if (watch.readyState === watch.CLOSED) loadSubscriptions(token); // says why
    };
  });

  // --- Token check -----------------------------------------------------------

  function dl(pairs) {
    const d = el('dl');
    for (const [k, v] of pairs) {
      if (v === undefined || v === null || v === '') continue;
      d.append(el('dt', k), el('dd', typeof v === 'string' ? v : JSON.stringify(v, null, 2)));
    }
    return d;
  }
  function keyText(k) {
    if (!k) return '';
    return (k.source === 'jwks' ? 'JWKS key' : 'configured key') + (k.kid ? ' kid ' + k.kid : '') + (k.alg ? ' (' + k.alg + ')' : '');
  }
  function matchers(ms) {
    return (ms || []).map((m) => m.type + ' ' + m.pattern).join('\n') || '(none)';
  }

  $('check-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const out = $('check-result');
    out.replaceChildren(el('p', 'checking…'));
    try {
      const resp = await fetch('token-check', {
        method: 'POST',
        body: new URLSearchParams({ token: $('check-token').value }),
      });
      if (!resp.ok) {
        out.replaceChildren(el('p', resp.status + ': ' + (await resp.text()).trim(), 'bad'));
        return;
      }
      const r = await resp.json();
      const parts = [];
      for (const role of r.roles) {
        const sec = el('div');
        sec.className = 'role role-' + role.role;
        if (role.accepted) {
          sec.append(el('h3', role.role + ': accepted', 'ok'), dl([
            ['dialect', role.dialect],
            ['verified with', keyText(role.key)],
            ['expires', role.expires || 'never'],
            ['publish', matchers(role.publish)],
            ['subscribe', matchers(role.subscribe)],
            ['payload', role.payload],
          ]));
        } else {
          sec.append(el('h3', role.role + ': refused (' + role.status + (role.code ? ' ' + role.code : '') + ')', 'bad'),
            dl([
              ['rule', role.rule],
              ['reason', role.reason],
              ['dialect', role.dialect],
              ['key', keyText(role.key)],
              ['at', role.at],
            ]));
        }
        parts.push(sec);
      }
      parts.push(el('h3', 'checked against'), dl([
        ['keys', r.keys.map((k) => k.role + ': ' + k.kind + (k.alg ? ' (' + k.alg + ')' : '')).join('\n')],
        ['resource id (aud)', r.resourceID],
      ]));
      parts.push(el('h3', 'token (not verified)'), dl([
        ['header', r.header],
        ['claims', r.claims],
        ['cannot decode', r.decodeError],
      ]));
      out.replaceChildren(...parts);
    } catch (err) {
      out.replaceChildren(el('p', 'failed: ' + err, 'bad'));
    }
  });
})();
