/* global document, window, localStorage, fetch, TextDecoder, AbortController, URLSearchParams, setTimeout, clearTimeout, setInterval */
/**
 * The forecast explorer: pick a stream, watch its actual values and every
 * horizon step of its forecasts arrive over server-sent events, and see the
 * online error against the naive persistence forecast.
 *
 * Plain browser JavaScript, no library and no build step: the gateway serves
 * this file as it is. The live feed is read with fetch() rather than
 * EventSource so that a bearer token can travel in the Authorization header.
 *
 * Actual values are not in the forecast messages; each message's `error` is
 * the actual minus the one-step forecast made at the previous event, so the
 * actual is that forecast plus the error. The persistence forecast of an
 * event is the previous event's actual.
 */

const MAX_POINTS = 150;
/** How long the search box waits after the last keystroke before asking for the recent streams. */
const SEARCH_DEBOUNCE_MS = 250;
const STEP_COLORS = ['#4cc9f0', '#f72585', '#ffb703', '#80ed99', '#b388ff', '#ff9f1c', '#2ec4b6', '#e76f51'];
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);
const state = {
  stream: null,
  /** Points in arrival order: { id, ts, model, forecast: [{target: v}], error, actual } */
  points: [],
  /** The ids of the points held (and only those), to drop a forecast delivered twice. */
  ids: new Set(),
  model: null,
  targets: [],
  horizon: 0,
  abort: null,
  lastEventId: undefined,
  retry: 0,
  models: [],
};

// --- small helpers -----------------------------------------------------------

function token() {
  return localStorage.getItem('streamcell-token') || '';
}

function authHeaders() {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

async function api(path) {
  const res = await fetch(path, { headers: authHeaders() });
  if (res.status === 401) {
    $('token-box').dataset.needed = 'true';
    $('token-box').open = true;
  }
  return res;
}

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function fmt(v) {
  if (v === undefined || v === null || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 10 ? v.toFixed(2) : v.toFixed(3);
}

function fmtTime(ts) {
  if (!Number.isFinite(ts)) return '–';
  const d = new Date(ts);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function ago(ms) {
  if (ms < 1500) return 'just now';
  if (ms < 90_000) return `${Math.round(ms / 1000)} s ago`;
  if (ms < 5_400_000) return `${Math.round(ms / 60_000)} min ago`;
  return `${Math.round(ms / 3_600_000)} h ago`;
}

function setConn(stateName, text) {
  $('conn').dataset.state = stateName;
  $('conn-text').textContent = text;
}

// --- recent streams and models ----------------------------------------------

/** Recent-streams requests are numbered: a reply older than the one shown, or for a search since changed, is dropped. */
let recentAsked = 0;
let recentShown = 0;

async function refreshRecent() {
  const q = $('search').value.trim();
  const seq = ++recentAsked;
  let streams;
  try {
    const res = await api(`/v1/streams?limit=60${q ? `&q=${encodeURIComponent(q)}` : ''}`);
    if (!res.ok) return;
    ({ streams } = await res.json());
  } catch {
    return;
  }
  if (seq < recentShown || q !== $('search').value.trim()) return;
  recentShown = seq;
  const list = $('recent');
  list.replaceChildren();
  const now = Date.now();
  for (const s of streams) {
    const li = el('li', { 'data-stream': s.stream, title: s.stream });
    if (s.stream === state.stream) li.classList.add('active');
    li.append(el('span', { class: 'sid' }, s.stream), el('span', { class: 'meta' }, `${s.model} · ${ago(now - s.receivedAt)}`));
    li.addEventListener('click', () => openStream(s.stream));
    list.append(li);
  }
  $('recent-count').textContent = streams.length ? `(${streams.length})` : '';
  $('recent-empty').hidden = streams.length > 0;
}

async function loadModels() {
  try {
    const res = await api('/v1/models');
    if (!res.ok) return;
    state.models = (await res.json()).models;
  } catch {
    return;
  }
  const box = $('models');
  box.replaceChildren();
  for (const m of state.models) {
    const p = el('div');
    p.append(el('b', {}, `${m.name} v${m.version}`), document.createTextNode(` · ${m.cell.toUpperCase()} ${m.numLayers}×${m.hiddenSize} · ${m.horizon} steps of ${m.targets.join(', ')}`));
    box.append(p);
  }
}

// --- the live feed -------------------------------------------------------------

function openStream(stream) {
  if (!stream) return;
  if (state.abort) state.abort.abort();
  Object.assign(state, { stream, points: [], ids: new Set(), model: null, targets: [], horizon: 0, lastEventId: undefined, retry: 0 });
  window.location.hash = `stream=${encodeURIComponent(stream)}`;
  $('search').value = stream;
  $('empty').hidden = true;
  $('view').hidden = false;
  $('stream-title').textContent = stream;
  $('model-badge').textContent = 'waiting for forecasts…';
  $('last-seen').textContent = '';
  for (const li of $('recent').children) li.classList.toggle('active', li.dataset.stream === stream);
  render();
  void loadLatest(stream);
  void connect(stream);
}

/** Shows the stored latest forecast while the live feed has nothing yet. */
async function loadLatest(stream) {
  try {
    const res = await api(`/v1/streams/${encodeURIComponent(stream)}/forecast`);
    if (!res.ok || state.stream !== stream || state.points.length > 0) return;
    const f = await res.json();
    $('model-badge').textContent = `${f.model.name} v${f.model.version}`;
    $('last-seen').textContent = `last event ${fmtTime(f.ts)} · state saved ${f.savedAgoMs === null ? '?' : ago(f.savedAgoMs)}`;
    renderLatestTable(f.forecast, f.ts, Object.keys(f.actual));
  } catch {
    // The live feed will fill in.
  }
}

async function connect(stream) {
  const abort = new AbortController();
  state.abort = abort;
  setConn('connecting', 'connecting…');
  try {
    const headers = { accept: 'text/event-stream', ...authHeaders() };
    if (state.lastEventId) headers['last-event-id'] = state.lastEventId;
    const res = await fetch(`/v1/streams/${encodeURIComponent(stream)}/live`, { headers, signal: abort.signal });
    if (!res.ok || !res.body) {
      const body = await res.json().catch(() => ({}));
      if (res.status === 401) {
        $('token-box').dataset.needed = 'true';
        $('token-box').open = true;
      }
      setConn('error', `${res.status} ${body.code || ''} ${body.message || ''}`.trim());
      if (res.status >= 500) scheduleReconnect(stream);
      return;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        handleEvent(buf.slice(0, cut));
        buf = buf.slice(cut + 2);
      }
    }
    if (!abort.signal.aborted) scheduleReconnect(stream);
  } catch {
    if (!abort.signal.aborted) scheduleReconnect(stream);
  }
}

function scheduleReconnect(stream) {
  if (state.stream !== stream) return;
  state.retry = Math.min(state.retry + 1, 6);
  const wait = 500 * 2 ** state.retry;
  setConn('connecting', `reconnecting in ${Math.round(wait / 1000)} s…`);
  const timer = setTimeout(() => {
    if (state.stream === stream) void connect(stream);
  }, wait);
  state.abort = { abort: () => clearTimeout(timer) };
}

function handleEvent(block) {
  let event = 'message';
  let id;
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (event === 'ready') {
    state.retry = 0;
    setConn('live', 'live');
    return;
  }
  if (event !== 'forecast' || data.length === 0) return;
  if (id !== undefined) state.lastEventId = id;
  let msg;
  try {
    msg = JSON.parse(data.join('\n'));
  } catch {
    return;
  }
  addForecast(msg, id);
}

function addForecast(msg, id) {
  const key = id || `${msg.source?.topic}/${msg.source?.partition}/${msg.source?.offset}`;
  if (state.ids.has(key)) return;
  const targets = Object.keys(msg.forecast[0] || {});
  if (state.targets.join() !== targets.join() || state.model?.name !== msg.model.name || state.model?.version !== msg.model.version) {
    // A new model version resets the stream's state and so its history here too.
    if (state.model) {
      state.points = [];
      state.ids.clear();
    }
    state.targets = targets;
    state.horizon = msg.forecast.length;
    state.model = msg.model;
  }
  const prev = state.points[state.points.length - 1];
  let actual = null;
  if (msg.error && prev) {
    actual = {};
    for (const t of targets) actual[t] = prev.forecast[0][t] + msg.error[t];
  }
  state.points.push({ id: key, ts: msg.ts, forecast: msg.forecast, error: msg.error || null, actual });
  state.ids.add(key);
  if (state.points.length > MAX_POINTS) {
    // Ids are kept for the points held only, so the set stays as small as the chart.
    for (const dropped of state.points.splice(0, state.points.length - MAX_POINTS)) state.ids.delete(dropped.id);
  }
  scheduleRender();
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  window.requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

// --- scoring -------------------------------------------------------------------

/** Mean absolute one-step error of the model and of persistence, over the same events. */
function scores(target) {
  let model = 0;
  let naive = 0;
  let n = 0;
  const pts = state.points;
  for (let i = 1; i < pts.length; i++) {
    const p = pts[i];
    const before = pts[i - 1];
    if (!p.error || !p.actual || !before.actual) continue;
    model += Math.abs(p.error[target]);
    naive += Math.abs(p.actual[target] - before.actual[target]);
    n += 1;
  }
  if (n === 0) return { n, model: NaN, naive: NaN, skill: NaN };
  return { n, model: model / n, naive: naive / n, skill: naive > 0 ? 1 - model / naive : NaN };
}

// --- drawing -------------------------------------------------------------------

function render() {
  const pts = state.points;
  const chartsBox = $('charts');
  chartsBox.dataset.points = String(pts.length);
  if (state.model) $('model-badge').textContent = `${state.model.name} v${state.model.version}`;
  const last = pts[pts.length - 1];
  if (last) $('last-seen').textContent = `last event ${fmtTime(last.ts)} · ${pts.length} forecasts on the chart`;
  renderCards();
  renderLegend();
  chartsBox.replaceChildren(...state.targets.map((t) => renderChart(t)));
  if (last) renderLatestTable(last.forecast, last.ts, state.targets);
}

function renderCards() {
  const cards = $('cards');
  cards.replaceChildren();
  const card = (label, value, sub, cls) => {
    const c = el('div', { class: 'card' });
    c.append(el('div', { class: 'label' }, label), el('div', { class: `value ${cls || ''}` }, value));
    if (sub) c.append(el('div', { class: 'sub' }, sub));
    cards.append(c);
  };
  card('forecasts received', String(state.points.length), state.horizon ? `${state.horizon} horizon steps each` : 'waiting…');
  for (const t of state.targets) {
    const s = scores(t);
    const skill = Number.isFinite(s.skill) ? `${(s.skill * 100).toFixed(1)} %` : '–';
    card(`${t} · skill vs naive`, skill, `MAE ${fmt(s.model)} · naive ${fmt(s.naive)} · n=${s.n}`, Number.isFinite(s.skill) ? (s.skill >= 0 ? 'good' : 'bad') : '');
  }
}

function renderLegend() {
  const lg = $('legend');
  lg.replaceChildren();
  if (!state.horizon) return;
  const item = (color, label, dashed) => {
    const s = el('span');
    const i = el('i');
    i.style.background = dashed ? `repeating-linear-gradient(90deg, ${color} 0 4px, transparent 4px 7px)` : color;
    s.append(i, document.createTextNode(label));
    lg.append(s);
  };
  item('#f1f3f7', 'actual', false);
  for (let k = 0; k < state.horizon; k++) item(STEP_COLORS[k % STEP_COLORS.length], `${k + 1}-step-ahead forecast`, false);
  item('#8b95a7', 'latest forecast', true);
}

/** Round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]. */
function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(v);
  return ticks;
}

function medianStep(pts) {
  const d = [];
  for (let i = 1; i < pts.length; i++) if (pts[i].ts > pts[i - 1].ts) d.push(pts[i].ts - pts[i - 1].ts);
  if (d.length === 0) return 1000;
  d.sort((a, b) => a - b);
  return d[Math.floor(d.length / 2)];
}

function renderChart(target) {
  const pts = state.points;
  const W = 900;
  const H = 240;
  const pad = { l: 52, r: 16, t: 12, b: 24 };
  const box = el('div', { class: 'chart', 'data-target': target });
  box.append(el('h3', {}, target));
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': `${target}: actual values and forecasts` });
  box.append(root);
  if (pts.length === 0) return box;

  const dt = medianStep(pts);
  // Where a forecast made at point i for step k lands: at the event it predicts, or extrapolated.
  const xOf = (i, k) => (i + k < pts.length ? pts[i + k].ts : pts[pts.length - 1].ts + (i + k - (pts.length - 1)) * dt);
  const H_ = state.horizon;
  let x0 = pts[0].ts;
  let x1 = xOf(pts.length - 1, H_);
  if (x1 <= x0) x1 = x0 + dt;
  let y0 = Infinity;
  let y1 = -Infinity;
  const seeY = (v) => {
    if (Number.isFinite(v)) {
      y0 = Math.min(y0, v);
      y1 = Math.max(y1, v);
    }
  };
  for (const p of pts) {
    if (p.actual) seeY(p.actual[target]);
    for (const f of p.forecast) seeY(f[target]);
  }
  if (!Number.isFinite(y0)) return box;
  if (y1 - y0 < 1e-9) {
    y0 -= 1;
    y1 += 1;
  }
  const m = (y1 - y0) * 0.08;
  y0 -= m;
  y1 += m;
  const X = (t) => pad.l + ((t - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const Y = (v) => pad.t + (1 - (v - y0) / (y1 - y0)) * (H - pad.t - pad.b);

  const grid = svg('g', { class: 'grid' });
  const axis = svg('g', { class: 'axis' });
  for (const v of niceTicks(y0, y1, 5)) {
    grid.append(svg('line', { x1: pad.l, x2: W - pad.r, y1: Y(v), y2: Y(v) }));
    const label = svg('text', { x: pad.l - 6, y: Y(v) + 3, 'text-anchor': 'end' });
    label.textContent = String(Number(v.toPrecision(6)));
    axis.append(label);
  }
  const span = x1 - x0;
  for (let g = 0; g <= 4; g++) {
    const t = x0 + (span * g) / 4;
    const label = svg('text', { x: X(t), y: H - 6, 'text-anchor': g === 0 ? 'start' : g === 4 ? 'end' : 'middle' });
    label.textContent = span >= 3 * 86_400_000 ? fmtTime(t).slice(0, 10) : fmtTime(t).slice(11);
    axis.append(label);
  }
  root.append(grid, axis);

  const lastTs = pts[pts.length - 1].ts;
  root.append(svg('line', { class: 'now-line', x1: X(lastTs), x2: X(lastTs), y1: pad.t, y2: H - pad.b }));

  // Each horizon step's forecasts, placed at the time they predict.
  for (let k = H_ - 1; k >= 0; k--) {
    const color = STEP_COLORS[k % STEP_COLORS.length];
    const g = svg('g', { class: `step step-${k + 1}`, 'data-step': k + 1 });
    let d = '';
    for (let i = 0; i < pts.length; i++) {
      const v = pts[i].forecast[k]?.[target];
      if (!Number.isFinite(v)) continue;
      const x = X(xOf(i, k + 1));
      const y = Y(v);
      d += `${d ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
      g.append(svg('circle', { class: 'pt pt-forecast', cx: x.toFixed(1), cy: y.toFixed(1), r: k === 0 ? 2.6 : 2, fill: color, 'fill-opacity': k === 0 ? 0.95 : 0.6 }));
    }
    g.prepend(svg('path', { d, fill: 'none', stroke: color, 'stroke-width': 1.1, 'stroke-opacity': k === 0 ? 0.7 : 0.35 }));
    root.append(g);
  }

  // Actual values.
  let da = '';
  const ga = svg('g', { class: 'actuals' });
  for (const p of pts) {
    if (!p.actual) continue;
    const x = X(p.ts);
    const y = Y(p.actual[target]);
    da += `${da ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    ga.append(svg('circle', { class: 'pt pt-actual', cx: x.toFixed(1), cy: y.toFixed(1), r: 2.4 }));
  }
  ga.prepend(svg('path', { class: 'actual-line', d: da }));
  root.append(ga);

  // The latest forecast as a fan from the last known actual (or its first step).
  const last = pts[pts.length - 1];
  const startV = last.actual ? last.actual[target] : last.forecast[0][target];
  let df = `M${X(last.ts).toFixed(1)},${Y(startV).toFixed(1)}`;
  for (let k = 0; k < H_; k++) df += `L${X(xOf(pts.length - 1, k + 1)).toFixed(1)},${Y(last.forecast[k][target]).toFixed(1)}`;
  root.append(svg('path', { class: 'fan', d: df, stroke: '#8b95a7' }));
  for (let k = 0; k < H_; k++) {
    root.append(
      svg('circle', {
        class: 'pt pt-latest',
        cx: X(xOf(pts.length - 1, k + 1)).toFixed(1),
        cy: Y(last.forecast[k][target]).toFixed(1),
        r: 4,
        fill: STEP_COLORS[k % STEP_COLORS.length],
        stroke: '#0f1218',
        'stroke-width': 1.5,
      }),
    );
  }
  return box;
}

function renderLatestTable(forecast, ts, targets) {
  const table = $('latest-table');
  table.replaceChildren();
  $('latest-when').textContent = `made at ${fmtTime(ts)}`;
  const head = el('tr');
  head.append(el('th', {}, 'step ahead'), ...targets.map((t) => el('th', {}, t)));
  table.append(head);
  forecast.forEach((step, k) => {
    const tr = el('tr');
    const first = el('td');
    const sw = el('span');
    sw.style.cssText = `display:inline-block;width:8px;height:8px;border-radius:50%;margin-right:8px;background:${STEP_COLORS[k % STEP_COLORS.length]}`;
    first.append(sw, document.createTextNode(`+${k + 1}`));
    tr.append(first, ...targets.map((t) => el('td', {}, fmt(step[t]))));
    table.append(tr);
  });
}

// --- start -----------------------------------------------------------------------

function init() {
  const tokenInput = $('token');
  tokenInput.value = token();
  tokenInput.addEventListener('change', () => {
    localStorage.setItem('streamcell-token', tokenInput.value.trim());
    $('token-box').dataset.needed = 'false';
    void loadModels();
    void refreshRecent();
    if (state.stream) openStream(state.stream);
  });
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    openStream($('search').value.trim());
  });
  // Typing asks once the keys stop, not on every keystroke.
  let searchTimer;
  $('search').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => void refreshRecent(), SEARCH_DEBOUNCE_MS);
  });
  const fromHash = new URLSearchParams(window.location.hash.slice(1)).get('stream');
  void loadModels();
  void refreshRecent();
  setInterval(() => void refreshRecent(), 3000);
  if (fromHash) openStream(fromHash);
}

init();
