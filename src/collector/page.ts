/**
 * The collector's page at `/`: one self-contained HTML document (inline CSS and JS, no external resource,
 * no data of its own). It reads `/v1/instances` and `/v1/usage` every few seconds and shows, per secret,
 * which fingerprints are in use by how many instances, and which instances are stale.
 *
 * With a token, open it as `/#token=…`: the fragment never reaches the server or its logs; the script
 * keeps the token in sessionStorage, strips it from the address bar and sends it as a Bearer token.
 * Everything from a report is written with textContent, never parsed as HTML.
 */
import { createHash } from 'node:crypto';

const STYLE = `
:root{--bg:#f5f6f8;--card:#fff;--line:#e4e7ec;--text:#1d2330;--muted:#667085;--accent:#2f6fed;--ok:#12805c;
  --ok-bg:#e5f5ee;--warn:#a15c00;--warn-bg:#fdf1dc;--bad:#b42318;--bad-bg:#fdeceb;--bar:#dbe4f5}
@media (prefers-color-scheme:dark){:root{--bg:#12151b;--card:#1b1f27;--line:#2c323d;--text:#e6e9ef;--muted:#98a2b3;
  --accent:#6d9bff;--ok:#4cc38a;--ok-bg:#173528;--warn:#f0b35b;--warn-bg:#3a2c14;--bad:#ff7b72;--bad-bg:#3d1d1b;
  --bar:#2b3b5c}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--text);
  font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
  font-variant-numeric:tabular-nums}
header.top{display:flex;align-items:center;gap:16px;padding:14px 28px;background:var(--card);
  border-bottom:1px solid var(--line);position:sticky;top:0;z-index:1}
header.top h1{font-size:17px;margin:0;font-weight:650;letter-spacing:-.01em}
header.top h1 span{color:var(--muted);font-weight:500}
.spacer{flex:1}
.pill{display:inline-flex;align-items:center;gap:6px;padding:3px 10px;border-radius:999px;font-size:12.5px;
  background:var(--bg);color:var(--muted);border:1px solid var(--line);white-space:nowrap}
.pill::before{content:"";width:8px;height:8px;border-radius:50%;background:var(--muted)}
.pill[data-state=live]::before{background:var(--ok)}
.pill[data-state=error]{color:var(--bad);background:var(--bad-bg);border-color:transparent}
.pill[data-state=error]::before{background:var(--bad)}
label.win{color:var(--muted);font-size:13px;display:flex;align-items:center;gap:6px}
select{font:inherit;font-size:13px;padding:3px 6px;border:1px solid var(--line);border-radius:6px;
  background:var(--card);color:var(--text)}
main{max-width:1180px;margin:0 auto;padding:22px 28px 48px}
.summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin-bottom:22px}
.stat{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 16px}
.stat b{display:block;font-size:22px;font-weight:650}
.stat span{color:var(--muted);font-size:12.5px}
.stat.alert b{color:var(--bad)}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:26px 0 10px;font-weight:600}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;margin-bottom:14px;overflow:hidden}
.card>header{display:flex;align-items:baseline;gap:12px;padding:12px 16px;border-bottom:1px solid var(--line);
  flex-wrap:wrap}
.card>header h3{margin:0;font:600 14.5px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.muted{color:var(--muted)}
.chip{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;font-weight:550;white-space:nowrap}
.chip.ok{background:var(--ok-bg);color:var(--ok)}
.chip.warn{background:var(--warn-bg);color:var(--warn)}
.chip.bad{background:var(--bad-bg);color:var(--bad)}
table{width:100%;border-collapse:collapse}
table.keys{table-layout:fixed}
table.keys col.c1{width:30%}table.keys col.c2{width:40%}table.keys col.c3{width:12%}table.keys col.c4{width:18%}
.chip.gone{background:var(--bg);color:var(--muted);border:1px solid var(--line)}
th{text-align:left;font-weight:550;color:var(--muted);font-size:12px;padding:8px 16px;
  border-bottom:1px solid var(--line);white-space:nowrap}
td{padding:8px 16px;border-bottom:1px solid var(--line);vertical-align:middle}
tr:last-child td{border-bottom:0}
td.num,th.num{text-align:right}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.fp{display:inline-flex;align-items:center;gap:7px;white-space:nowrap}
.dot{width:9px;height:9px;border-radius:50%;flex:none}
.bar{display:flex;align-items:center;gap:10px;white-space:nowrap}
.bar i{display:block;height:8px;border-radius:4px;background:var(--accent);min-width:4px}
.bar s{flex:none;width:180px;text-decoration:none;height:8px;border-radius:4px;background:var(--bar);display:flex;
  overflow:hidden}
td.late{color:var(--bad)!important}
tr.stale td{color:var(--muted)}
tr.stale td.state{color:var(--bad)}
.held{display:flex;flex-direction:column;gap:2px}
.empty{background:var(--card);border:1px dashed var(--line);border-radius:10px;padding:28px;text-align:center;
  color:var(--muted)}
.empty code{color:var(--text)}
footer{color:var(--muted);font-size:12px;margin-top:26px}
`;

const SCRIPT = `
(() => {
  'use strict';
  const REFRESH_MS = 3000;
  const MAX_ROWS = 500;
  const MAX_SECRETS = 200;
  const WINDOWS = [
    ['5m', 300000], ['15m', 900000], ['1h', 3600000], ['6h', 21600000], ['24h', 86400000], ['7d', 604800000],
  ];
  const $ = (id) => document.getElementById(id);
  let token = null;
  const fromHash = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (fromHash) {
    try { token = decodeURIComponent(fromHash[1]); } catch (e) { token = fromHash[1]; }
    try { sessionStorage.setItem('keyflip.collector.token', token); } catch (e) { /* private mode: memory only */ }
    history.replaceState(null, '', location.pathname + location.search);
  } else {
    try { token = sessionStorage.getItem('keyflip.collector.token'); } catch (e) { token = null; }
  }
  const params = new URLSearchParams(location.search);
  let windowName = params.get('window') || '1h';
  if (!WINDOWS.some((w) => w[0] === windowName)) windowName = '1h';

  function h(tag, props, children) {
    const el = document.createElement(tag);
    if (props) for (const k of Object.keys(props)) {
      const v = props[k];
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = String(v);
      else if (k === 'style') for (const s of Object.keys(v)) el.style[s] = v[s];
      else el.setAttribute(k, String(v));
    }
    for (const c of children || []) {
      if (c !== null && c !== undefined && c !== false)
        el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  function ago(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + 's ago';
    const m = Math.floor(s / 60);
    if (m < 60) return m + 'm ago';
    const hr = Math.floor(m / 60);
    if (hr < 24) return hr + 'h ' + (m % 60) + 'm ago';
    return Math.floor(hr / 24) + 'd ' + (hr % 24) + 'h ago';
  }
  function dur(ms) {
    if (ms === undefined || ms === null) return '—';
    if (ms < 1000) return ms + 'ms';
    const s = Math.round(ms / 1000);
    if (s < 120) return s + 's';
    const m = Math.round(s / 60);
    if (m < 120 || m % 60 !== 0) return m + 'm';
    const hr = m / 60;
    return hr % 24 === 0 ? hr / 24 + 'd' : hr + 'h';
  }
  // Each fingerprint keeps the colour it was first shown with, distinct from the others on the page.
  const PALETTE = [
    '#2f6fed', '#e8590c', '#12b886', '#ae3ec9', '#f59f00', '#0c8599', '#e03131', '#5c7cfa', '#66a80f', '#d6336c',
  ];
  const colours = new Map();
  function colour(fp) {
    if (!colours.has(fp)) {
      colours.set(fp, colours.size < PALETTE.length
        ? PALETTE[colours.size]
        : 'hsl(' + (parseInt(fp.slice(3, 9), 16) % 360) + ' 60% 48%)');
    }
    return colours.get(fp);
  }
  function fpChip(fp, version) {
    return h('span', { class: 'fp' }, [
      h('span', { class: 'dot', style: { background: colour(fp) } }),
      h('code', { text: fp }),
      version !== undefined ? h('span', { class: 'muted', text: 'v' + version }) : null,
    ]);
  }
  const plural = (n, one, many) => n + ' ' + (n === 1 ? one : (many || one + 's'));

  async function api(path) {
    const headers = token ? { authorization: 'Bearer ' + token } : {};
    const res = await fetch(path, { headers, cache: 'no-store' });
    if (res.status === 401) { const e = new Error('unauthorized'); e.status = 401; throw e; }
    if (!res.ok) throw new Error('HTTP ' + res.status);
    return res.json();
  }

  function setStatus(state, text) {
    const el = $('status');
    el.dataset.state = state;
    el.textContent = text;
  }

  function render(snapshot, usages) {
    const now = snapshot.at;
    const byId = new Map(snapshot.instances.map((i) => [i.id, i]));
    const stale = snapshot.stale;
    const multi = usages.filter((u) => u.fingerprints.length > 1).length;

    const summary = h('div', { class: 'summary' }, [
      h('div', { class: 'stat' }, [h('b', { text: snapshot.total }), h('span', { text: 'instances reporting' })]),
      h('div', { class: 'stat' + (stale > 0 ? ' alert' : ''), 'data-stale-count': stale }, [
        h('b', { text: stale }),
        h('span', { text: 'stale: no report for 2× their interval' }),
      ]),
      h('div', { class: 'stat' }, [
        h('b', { text: usages.length }),
        h('span', { text: usages.length === 1 ? 'secret' : 'secrets' }),
      ]),
      h('div', { class: 'stat' + (multi > 0 ? ' alert' : ''), 'data-multi-key': multi }, [
        h('b', { text: multi }),
        h('span', { text: 'mid-rotation: more than one key in use' }),
      ]),
    ]);

    const secrets = [h('h2', { text: 'Secrets · last ' + windowName })];
    if (usages.length === 0) {
      secrets.push(h('div', { class: 'empty' }, [
        h('p', { text: 'No beacon received yet.' }),
        h('p', {}, [
          'Point a resolver\\'s beacon here: ',
          h('code', {
            text: "beacon: usageBeacon({ service: 'my-app', sink: httpSink({ url: '" + location.origin + "' }) })",
          }),
        ]),
      ]));
    }
    // Secrets mid-rotation first, then by name.
    const ordered = [...usages].sort((a, b) =>
      (b.fingerprints.length > 1) - (a.fingerprints.length > 1) || (a.secret < b.secret ? -1 : 1));
    for (const u of ordered) {
      const most = Math.max(1, ...u.fingerprints.map((f) => f.instances.length));
      const rows = u.fingerprints.map((f) => {
        const staleHere = f.instances.filter((i) => byId.get(i.id) && byId.get(i.id).stale).length;
        // Listed in the instance's latest report: held now, not only earlier in the window.
        const heldNow = f.instances.filter((i) => {
          const inst = byId.get(i.id);
          // An instance beyond the rows fetched (a large fleet) is assumed to hold it.
          return !inst || inst.secrets.some((s) =>
            s.name === u.secret && s.fingerprint === f.fingerprint && s.lastSeen === inst.lastSeen);
        }).length;
        const data = {
          'data-fingerprint': f.fingerprint,
          'data-instances': f.instances.length,
          'data-stale': staleHere,
          'data-held-now': heldNow,
        };
        const holders = f.instances.map((i) => i.service + ' · ' + i.host + ' · pid ' + i.pid).join('\\n');
        return h('tr', data, [
          h('td', {}, [fpChip(f.fingerprint, f.version)]),
          h('td', { title: holders }, [h('div', { class: 'bar' }, [
            h('s', {}, [
              h('i', { style: { width: (100 * f.instances.length / most) + '%', background: colour(f.fingerprint) } }),
            ]),
            h('span', { class: 'count', text: plural(f.instances.length, 'instance') }),
            staleHere > 0 ? h('span', { class: 'chip bad', text: staleHere + ' stale' }) : null,
            heldNow === 0 && staleHere === 0 ? h('span', { class: 'chip gone', text: 'not held any more' }) : null,
          ])]),
          h('td', { class: 'num', text: f.uses.toLocaleString('en-US') }),
          h('td', { class: 'num muted', text: ago(now - f.lastSeen) }),
        ]);
      });
      const keys = u.fingerprints.length;
      secrets.push(h('section', { class: 'card', 'data-secret': u.secret }, [
        h('header', {}, [
          h('h3', { text: u.secret }),
          keys === 0 ? h('span', { class: 'chip warn', text: 'no report in this window' })
            : h('span', {
              class: 'chip ' + (keys > 1 ? 'warn' : 'ok'),
              text: keys > 1 ? keys + ' keys in use' : '1 key in use',
            }),
          h('span', {
            class: 'muted',
            text: plural(u.instancesSeen, 'instance') + ' reported it in the last ' + windowName,
          }),
        ]),
        keys === 0 ? null : h('table', { class: 'keys' }, [
          h('colgroup', {}, [
            h('col', { class: 'c1' }), h('col', { class: 'c2' }), h('col', { class: 'c3' }), h('col', { class: 'c4' }),
          ]),
          h('thead', {}, [h('tr', {}, [
            h('th', { text: 'fingerprint' }),
            h('th', { text: 'held by' }),
            h('th', { class: 'num', text: 'uses' }),
            h('th', { class: 'num', text: 'last reported' }),
          ])]),
          h('tbody', {}, rows),
        ]),
      ]));
    }

    const instances = [...snapshot.instances].sort((a, b) => (b.stale - a.stale) || (
      a.service < b.service ? -1 : a.service > b.service ? 1
        : a.host < b.host ? -1 : a.host > b.host ? 1 : a.pid - b.pid
    ));
    const rows = instances.map((i) => {
      const held = new Map();
      for (const s of i.secrets) if (!held.has(s.name)) held.set(s.name, s);
      const state = i.stale
        ? h('span', { class: 'chip bad', text: 'stale' })
        : h('span', { class: 'chip ok', text: 'live' });
      const holds = [...held.values()].map((s) =>
        h('div', {}, [h('span', { class: 'mono', text: s.name + ' ' }), fpChip(s.fingerprint, s.version)]));
      const data = { class: i.stale ? 'stale' : '', 'data-instance': i.id, 'data-stale': i.stale ? 'true' : 'false' };
      return h('tr', data, [
        h('td', { class: 'state' }, [state]),
        h('td', {}, [
          h('div', { text: i.service }),
          i.environment !== undefined ? h('div', { class: 'muted', text: i.environment }) : null,
        ]),
        h('td', {}, [h('div', { text: i.host }), h('div', { class: 'muted mono', text: 'pid ' + i.pid })]),
        h('td', {}, [h('div', { class: 'held' }, holds)]),
        h('td', { class: 'num', text: dur(i.intervalMs) }),
        h('td', { class: 'num ' + (i.stale ? 'late' : 'muted'), text: ago(now - i.lastSeen) }),
      ]);
    });
    const instanceBlock = [h('h2', {
      text: snapshot.total > instances.length
        ? 'Instances · the first ' + instances.length + ' of ' + snapshot.total + ', stale first'
        : 'Instances',
    })];
    if (rows.length > 0) {
      instanceBlock.push(h('div', { class: 'card' }, [h('table', { id: 'instances' }, [
        h('thead', {}, [h('tr', {}, [
          h('th', { text: '' }),
          h('th', { text: 'service' }),
          h('th', { text: 'host' }),
          h('th', { text: 'holds' }),
          h('th', { class: 'num', text: 'interval' }),
          h('th', { class: 'num', text: 'last report' }),
        ])]),
        h('tbody', {}, rows),
      ])]));
    }

    $('content').replaceChildren(summary, ...secrets, ...instanceBlock,
      h('footer', {
        text: 'Retention ' + dur(snapshot.retentionMs) + ' · stale: no report for 2× its interval · refreshes every ' +
          (REFRESH_MS / 1000) + ' s · fingerprints only, never a value',
      }));
  }

  let timer = null;
  let running = false;
  async function refresh() {
    if (running) return;
    running = true;
    try {
      const snapshot = await api('/v1/instances?limit=' + MAX_ROWS);
      const windowMs = WINDOWS.find((w) => w[0] === windowName)[1];
      const win = Math.min(windowMs, snapshot.retentionMs);
      const names = snapshot.secrets.slice(0, MAX_SECRETS);
      const usages = await Promise.all(names.map((n) =>
        api('/v1/usage?secret=' + encodeURIComponent(n) + '&window=' + win + 'ms')));
      render(snapshot, usages);
      setStatus('live', 'live · updated ' + new Date().toLocaleTimeString());
    } catch (e) {
      if (e && e.status === 401)
        setStatus('error', token ? 'the token was refused' : 'a token is needed: open /#token=…');
      else setStatus('error', 'collector unreachable · retrying');
    } finally {
      running = false;
      timer = setTimeout(refresh, REFRESH_MS);
    }
  }

  const select = $('window');
  for (const [name] of WINDOWS) select.append(h('option', { value: name, text: name, selected: name === windowName }));
  select.addEventListener('change', () => {
    windowName = select.value;
    const p = new URLSearchParams(location.search);
    p.set('window', windowName);
    history.replaceState(null, '', location.pathname + '?' + p.toString());
    clearTimeout(timer);
    refresh();
  });
  refresh();
})();
`;

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>keyflip collector</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header class="top">
  <h1>keyflip <span>collector</span></h1>
  <div class="spacer"></div>
  <label class="win">window <select id="window"></select></label>
  <span class="pill" id="status" data-state="loading">loading…</span>
</header>
<main id="content"></main>
<script>${SCRIPT}</script>
</body>
</html>
`;

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The page and the headers it is served with (a CSP that allows only its own inline script and style). */
export const COLLECTOR_PAGE = {
  html: HTML,
  headers: {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': [
      "default-src 'none'",
      `script-src ${hash(SCRIPT)}`,
      `style-src ${hash(STYLE)}`,
      "connect-src 'self'",
      'img-src data:',
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  },
} as const;
