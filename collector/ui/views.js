// views.js - the page's views: runs table, run, compare, lineage graph, file.
import {api, navigate, showError} from './app.js';
import {drawChart, escapeHtml as h} from './chart.js';
import {drawGraph} from './graph.js';

const enc = encodeURIComponent;
const status = s => `<span class="status ${h(s)}">${h(s)}</span>`;
const runLink = r => `<a href="/runs/${enc(r.id)}">${h(r.name || r.id.slice(0, 8))}</a>`;
const fileHref = (path, host) => `/files?path=${enc(host ? host + ':' + path : path)}`;
const fmtTime = t => (t ? t.replace('T', ' ').slice(0, 19) : '');
const fmtVal = v => (typeof v === 'number' ? String(+v.toPrecision(6)) : v === null || v === undefined ? '' : String(v));
const dur = s => (s === null || s === undefined ? '' : s < 60 ? s.toFixed(1) + 's' : s < 3600 ? (s / 60).toFixed(1) + 'm' : (s / 3600).toFixed(1) + 'h');

function kvTable(obj, title) {
  const keys = Object.keys(obj || {});
  if (!keys.length) return `<h2>${title}</h2><p class="muted">none</p>`;
  return `<h2>${title}</h2><table><tbody>` +
         keys.map(k => `<tr><th>${h(k)}</th><td>${h(fmtVal(obj[k]))}</td></tr>`).join('') + '</tbody></table>';
}

// ---- runs table ----

export async function runs(el, q) {
  const state = {where: q.get('where') || '', experiment: q.get('experiment') || '',
                 order_by: q.get('order_by') || 'started desc', page_token: q.get('page_token') || '',
                 cols: (q.get('cols') || '').split(',').filter(Boolean)};
  const exps = await api('/experiments');
  el.innerHTML = `<h1>Runs</h1>
    <form class="toolbar" id="filter">
      <input id="where" aria-label="filter" placeholder="filter: params.lr > 0.01 and status = 'finished'" value="${h(state.where)}">
      <select id="exp" aria-label="experiment"><option value="">all experiments</option>${
        exps.experiments.filter(e => e.name).map(e => `<option ${e.name === state.experiment ? 'selected' : ''}>${h(e.name)}</option>`).join('')}</select>
      <button>Filter</button>
      <button type="button" id="compare" disabled>Compare selected</button>
      <details><summary>Columns</summary><div class="keys" id="cols"></div></details>
    </form>
    <div id="err"></div><div class="scroll"><table id="runs"></table></div>
    <p class="toolbar"><button id="prev">Previous</button><button id="next">Next</button><span id="count" class="muted"></span></p>`;
  const selected = new Set();
  let timer = null, alive = true, tokens = [];
  const setUrl = () => {
    const u = new URLSearchParams();
    for (const k of ['where', 'experiment', 'page_token']) if (state[k]) u.set(k, state[k]);
    if (state.order_by !== 'started desc') u.set('order_by', state.order_by);
    if (state.cols.length) u.set('cols', state.cols.join(','));
    history.replaceState(null, '', '/' + (u.toString() ? '?' + u : ''));
  };
  async function load() {
    clearTimeout(timer);
    let doc;
    try {
      doc = await api('/runs', {where: state.where, experiment: state.experiment, order_by: state.order_by,
                                page_token: state.page_token, limit: 100});
      el.querySelector('#err').innerHTML = '';
    } catch (e) {
      if (e.status === 400) {
        el.querySelector('#err').innerHTML = `<div class="error" id="where-error">${h(e.message)}</div>`;
        return;
      }
      throw e;
    }
    if (!alive) return;
    render(doc);
    if (doc.runs.some(r => r.status === 'running')) timer = setTimeout(() => load().catch(() => {}), 3000);
  }
  function render(doc) {
    const pk = new Set(), mk = new Set();
    for (const r of doc.runs) {
      Object.keys(r.params || {}).forEach(k => pk.add('params.' + k));
      Object.keys(r.metrics || {}).filter(k => !k.startsWith('system/')).forEach(k => mk.add('metrics.' + k));
    }
    const avail = [...pk, ...mk];
    if (!state.cols.length) state.cols = avail.slice(0, 8);
    el.querySelector('#cols').innerHTML = avail.map(c =>
      `<label><input type="checkbox" value="${h(c)}" ${state.cols.includes(c) ? 'checked' : ''}>${h(c)}</label>`).join('');
    const cols = [['', null], ['name', 'name'], ['status', 'status'], ['experiment', 'experiment'],
                  ['started', 'started'], ['duration', 'duration'],
                  ...state.cols.map(c => [c, c])];
    const [okey, odir] = state.order_by.split(' ');
    const head = cols.map(([label, key]) => key
      ? `<th><button data-sort="${h(key)}">${h(label)}${okey === key ? (odir === 'desc' ? ' ▼' : ' ▲') : ''}</button></th>`
      : '<th><span class="muted">✓</span></th>').join('');
    const cell = (r, c) => {
      const [kind, ...rest] = c.split('.'), k = rest.join('.');
      const v = kind === 'params' ? (r.params || {})[k] : (r.metrics || {})[k];
      return `<td class="${kind === 'metrics' ? 'num' : ''}">${h(fmtVal(v))}</td>`;
    };
    el.querySelector('#runs').innerHTML = `<thead><tr>${head}</tr></thead><tbody>` + doc.runs.map(r =>
      `<tr data-run="${h(r.id)}"><td><input type="checkbox" aria-label="select ${h(r.name || r.id)}" value="${h(r.id)}" ${selected.has(r.id) ? 'checked' : ''}></td>
       <td>${runLink(r)}</td><td>${status(r.status)}</td><td>${h(r.experiment || '')}</td>
       <td>${h(fmtTime(r.started_at))}</td><td class="num">${dur(r.duration_s)}</td>${state.cols.map(c => cell(r, c)).join('')}</tr>`).join('') + '</tbody>';
    el.querySelector('#count').textContent = doc.total ? `runs ${doc.offset + 1}–${doc.offset + doc.runs.length} of ${doc.total}` : 'no runs';
    el.querySelector('#prev').disabled = !tokens.length;
    el.querySelector('#next').disabled = !doc.next_page_token;
    el.querySelector('#next').onclick = () => { tokens.push(state.page_token); state.page_token = doc.next_page_token; setUrl(); load(); };
  }
  el.querySelector('#prev').onclick = () => { state.page_token = tokens.pop() || ''; setUrl(); load(); };
  el.querySelector('#filter').addEventListener('submit', ev => {
    ev.preventDefault();
    state.where = el.querySelector('#where').value.trim();
    state.experiment = el.querySelector('#exp').value;
    state.page_token = ''; tokens = [];
    setUrl(); load();
  });
  el.querySelector('#cols').addEventListener('change', () => {
    state.cols = [...el.querySelectorAll('#cols input:checked')].map(i => i.value);
    setUrl(); load();
  });
  el.querySelector('#runs').addEventListener('click', ev => {
    const b = ev.target.closest('button[data-sort]');
    if (b) {
      const [okey, odir] = state.order_by.split(' ');
      state.order_by = b.dataset.sort + (okey === b.dataset.sort && odir === 'desc' ? ' asc' : ' desc');
      state.page_token = ''; tokens = [];
      setUrl(); load();
    }
    const c = ev.target.closest('input[type=checkbox]');
    if (c) {
      if (c.checked) selected.add(c.value); else selected.delete(c.value);
      el.querySelector('#compare').disabled = selected.size < 2;
    }
  });
  el.querySelector('#compare').onclick = () => navigate('/compare?runs=' + [...selected].map(enc).join(','));
  await load();
  return () => { alive = false; clearTimeout(timer); };
}

// ---- charts ----

const seriesOf = (points, xKind) => {
  const t0 = points.length && points[0].time ? Date.parse(points[0].time) : 0;
  return points.map(p => [xKind === 'step' ? p.step : xKind === 'time' ? Date.parse(p.time) : (Date.parse(p.time) - t0) / 1000,
                          typeof p.value === 'number' ? p.value : NaN]).filter(p => Number.isFinite(p[0]));
};

// Exponential moving average (weight a on the past; 0: the points as they are), debiased at the
// start as TensorBoard does.
const ema = (pts, a) => {
  if (!a) return pts;
  let m = 0, n = 0;
  return pts.map(([x, y]) => {
    if (!Number.isFinite(y)) return [x, y];
    m = a * m + (1 - a) * y; n++;
    return [x, m / (1 - Math.pow(a, n))];
  });
};

// A panel of charts for keys of docs ([{label, metrics: {key: points}}]): one chart a key,
// every doc a series in it; x axis, log scale chosen above.
function chartPanel(el, title, keys, docs) {
  el.innerHTML = `<h2>${h(title)}</h2><div class="toolbar">
      <label>x <select class="xk"><option value="step">step</option><option value="time">time</option><option value="rel">relative time</option></select></label>
      <label><input type="checkbox" class="log"> log scale</label>
      <label>smoothing <input type="range" class="smooth" min="0" max="0.99" step="0.01" value="0" aria-label="smoothing"></label></div>
      <div class="keys">${keys.map((k, i) => `<label><input type="checkbox" value="${h(k)}" ${i < 6 ? 'checked' : ''}>${h(k)}</label>`).join('')}</div>
      <div class="grid2 charts"></div>`;
  const draw = () => {
    const xKind = el.querySelector('.xk').value, log = el.querySelector('.log').checked;
    const smooth = Number(el.querySelector('.smooth').value);
    const box = el.querySelector('.charts');
    box.innerHTML = '';
    for (const inp of el.querySelectorAll('.keys input:checked')) {
      const k = inp.value, c = document.createElement('div');
      c.className = 'panel';
      c.innerHTML = `<b>${h(k)}</b><div class="chartbox" data-key="${h(k)}"></div>`;
      box.append(c);
      drawChart(c.querySelector('.chartbox'),
                docs.map(d => ({label: d.label, points: ema(seriesOf(d.metrics[k] || [], xKind), smooth)})), {xKind, log});
    }
  };
  el.addEventListener('change', draw);
  draw();
}

// ---- run page ----

function procTree(procs) {
  const kids = new Map(), pids = new Set(procs.map(p => p.pid));
  for (const p of procs) {
    const parent = pids.has(p.ppid) ? p.ppid : 0;
    (kids.get(parent) || kids.set(parent, []).get(parent)).push(p);
  }
  const li = p => `<li><code>${h(p.pid)}</code> ${h((p.argv || []).join(' ') || p.exe || '')} ${status(p.status || '')}${
    p.exit_code !== null && p.exit_code !== undefined ? ' exit ' + h(p.exit_code) : ''}${
    p.backtrace ? `<pre>${h(p.backtrace)}</pre>` : ''}${kids.has(p.pid) ? `<ul class="tree">${kids.get(p.pid).map(li).join('')}</ul>` : ''}</li>`;
  return `<ul class="tree">${(kids.get(0) || []).map(li).join('')}</ul>`;
}

function filesTable(list, title) {
  if (!list || !list.length) return `<h2>${title}</h2><p class="muted">none</p>`;
  return `<h2>${title}</h2><div class="scroll"><table><thead><tr><th>path</th><th>role</th><th>version</th><th>bytes</th></tr></thead><tbody>` +
    list.map(f => `<tr><td><a href="${fileHref(f.path, f.host)}">${h(f.path)}</a>${f.host ? ` <span class="muted">on ${h(f.host)}</span>` : ''}</td>
      <td>${h(f.role || '')}</td><td><code>${h((f.version || '').slice(0, 12))}</code></td><td class="num">${h(f.bytes ?? '')}</td></tr>`).join('') +
    '</tbody></table></div>';
}

export async function run(el, ref) {
  const r = await api('/runs/' + enc(ref));
  const m = await api('/runs/' + enc(r.id) + '/metrics', {max_points: 1000});
  el.innerHTML = `<h1>${h(r.name || r.id)} ${status(r.status)}</h1>
    <dl class="kv"><dt>id</dt><dd><code>${h(r.id)}</code></dd><dt>experiment</dt><dd>${h(r.experiment || '')}</dd>
      <dt>command</dt><dd><code>${h((r.argv || []).join(' '))}</code></dd><dt>directory</dt><dd>${h(r.cwd || '')}</dd>
      <dt>host / user</dt><dd>${h(r.host || '')} / ${h(r.user || '')}</dd>
      <dt>started</dt><dd>${h(fmtTime(r.started_at))}</dd><dt>ended</dt><dd>${h(fmtTime(r.ended_at))} (${dur(r.duration_s)})</dd>
      <dt>exit</dt><dd>${h(r.exit_code ?? '')}${r.signal ? ' signal ' + h(r.signal) : ''}</dd></dl>
    <p><a href="/lineage?target=${enc(r.id)}">lineage</a> · <a href="/compare?runs=${enc(r.id)}">compare…</a></p>
    <div class="grid2"><div>${kvTable(r.params, 'Params')}</div><div>${kvTable(r.tags, 'Tags')}</div></div>
    <div id="metrics" class="panel"></div><div id="system" class="panel"></div>
    ${r.stderr_tail ? `<h2>Crash</h2><pre class="log">${h(r.stderr_tail)}</pre>` : ''}
    <div id="logs"></div>
    ${filesTable(r.inputs, 'Inputs')}${filesTable(r.outputs, 'Outputs')}
    <h2>Processes</h2>${procTree(r.processes || [])}
    <h2>Dependencies</h2><div class="scroll"><table><tbody>${(r.deps || []).map(d =>
      `<tr><td>${h(d.package || d.path || '')}</td><td>${h(d.version || '')}</td><td>${h(d.kind || d.source || '')}</td></tr>`).join('') ||
      '<tr><td class="muted">none</td></tr>'}</tbody></table></div>
    <details><summary>Environment (${Object.keys(r.env || {}).length})</summary>${kvTable(r.env, 'Environment')}</details>`;
  const keys = Object.keys(m.metrics);
  const user = keys.filter(k => !k.startsWith('system/')), sys = keys.filter(k => k.startsWith('system/'));
  const docs = [{label: r.name || r.id.slice(0, 8), metrics: m.metrics}];
  if (user.length) chartPanel(el.querySelector('#metrics'), 'Metrics', user, docs);
  else el.querySelector('#metrics').innerHTML = '<h2>Metrics</h2><p class="muted">none logged</p>';
  if (sys.length) chartPanel(el.querySelector('#system'), 'System', sys, docs);
  else el.querySelector('#system').remove();
  let timer = null, alive = true;
  const logs = async () => {
    const box = el.querySelector('#logs');
    try {
      const [out, err] = await Promise.all([api(`/runs/${enc(r.id)}/logs`, {stream: 'stdout', tail: 500}),
                                            api(`/runs/${enc(r.id)}/logs`, {stream: 'stderr', tail: 500})]);
      if (!alive) return;
      box.innerHTML = (out.text || err.text)
        ? `<h2>Logs</h2><h3>stdout</h3><pre class="log">${h(out.text)}</pre><h3>stderr</h3><pre class="log">${h(err.text)}</pre>`
        : '<h2>Logs</h2><p class="muted">no console output kept</p>';
    } catch (e) { box.innerHTML = ''; showError(box, e); }
    if (r.status === 'running' && alive) timer = setTimeout(logs, 3000);
  };
  await logs();
  return () => { alive = false; clearTimeout(timer); };
}

// ---- compare ----

export async function compare(el, refs) {
  if (refs.length < 2) {
    el.innerHTML = '<h1>Compare</h1><p>Select two or more runs in the <a href="/">runs table</a>.</p>';
    return null;
  }
  const rs = await Promise.all(refs.map(r => api('/runs/' + enc(r))));
  const ms = await Promise.all(rs.map(r => api('/runs/' + enc(r.id) + '/metrics', {max_points: 1000})));
  const label = r => r.name || r.id.slice(0, 8);
  const rows = (section, get) => {
    const keys = [...new Set(rs.flatMap(r => Object.keys(get(r) || {})))];
    const differs = k => new Set(rs.map(r => JSON.stringify((get(r) || {})[k] ?? null))).size > 1;
    keys.sort((a, b) => differs(b) - differs(a) || a.localeCompare(b));
    return keys.map(k => `<tr class="${differs(k) ? 'diff' : ''}" data-key="${h(section + '.' + k)}"><th>${h(k)}</th>${
      rs.map(r => `<td class="${differs(k) ? 'changed' : ''}">${h(fmtVal((get(r) || {})[k]))}</td>`).join('')}</tr>`).join('');
  };
  const head = `<tr><th></th>${rs.map(r => `<th>${runLink(r)} ${status(r.status)}</th>`).join('')}</tr>`;
  el.innerHTML = `<h1>Compare ${rs.length} runs</h1>
    <h2>Params</h2><div class="scroll"><table id="cmp-params"><thead>${head}</thead><tbody>${rows('params', r => r.params)}</tbody></table></div>
    <h2>Metrics (last values)</h2><div class="scroll"><table id="cmp-metrics"><thead>${head}</thead><tbody>${rows('metrics', r => r.metrics)}</tbody></table></div>
    <div id="diff"></div><div id="charts" class="panel"></div>`;
  const keys = [...new Set(ms.flatMap(m => Object.keys(m.metrics)))].filter(k => !k.startsWith('system/'));
  if (keys.length) chartPanel(el.querySelector('#charts'), 'Metrics', keys, rs.map((r, i) => ({label: label(r), metrics: ms[i].metrics})));
  if (rs.length === 2) {
    const d = await api('/diff', {a: rs[0].id, b: rs[1].id});
    el.querySelector('#diff').innerHTML = `<h2>What differs (trail diff)</h2>${d.identical ? '<p>identical</p>' :
      `<div class="scroll"><table><thead><tr><th>section</th><th>change</th><th>name</th><th>${h(label(rs[0]))}</th><th>${h(label(rs[1]))}</th></tr></thead><tbody>${
      d.changes.map(c => `<tr><td>${h(c.section)}</td><td>${h(c.kind)}</td><td>${h(c.name)}</td><td>${h(fmtVal(c.a))}</td><td>${h(fmtVal(c.b))}</td></tr>`).join('')}</tbody></table></div>`}`;
  }
  return null;
}

// ---- lineage ----

export async function lineage(el, q) {
  const target = q.get('target') || '';
  const direction = q.get('direction') || 'both', depth = q.get('depth') || '';
  const doc = await api('/lineage', {target, direction, depth, files: q.get('files')});
  el.innerHTML = `<h1>Lineage of ${h(target)}</h1>
    <form class="toolbar" id="lopts"><label>direction <select name="direction">${['both', 'up', 'down'].map(d =>
      `<option ${d === direction ? 'selected' : ''}>${d}</option>`).join('')}</select></label>
      <label>depth <input name="depth" size="4" value="${h(depth)}" aria-label="depth"></label><button>Show</button>
      <span class="muted">${doc.nodes.length} nodes, ${doc.edges.length} edges · click a node to move to it</span></form>
    <div id="sel" class="muted"></div><div class="scroll" id="graph"></div>`;
  el.querySelector('#lopts').addEventListener('submit', ev => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    navigate(`/lineage?target=${enc(target)}&direction=${enc(f.get('direction'))}${f.get('depth') ? '&depth=' + enc(f.get('depth')) : ''}`);
  });
  drawGraph(el.querySelector('#graph'), doc, n => {
    if (n.kind === 'run') navigate('/lineage?target=' + enc(n.run || n.id));
    else if (n.files) navigate(`/lineage?target=${enc(target)}&files=1`);
    else navigate('/lineage?target=' + enc((n.host ? n.host + ':' : '') + n.path + (n.version ? '@' + n.version : '')));
  });
  const root = doc.nodes.find(n => n.id === doc.root);
  if (root) el.querySelector('#sel').innerHTML = root.kind === 'run'
    ? `run page: <a href="/runs/${enc(root.run || root.id)}">${h(root.label)}</a>`
    : `file page: <a href="${fileHref(root.path, root.host)}">${h(root.path)}</a>`;
  return null;
}

// ---- file ----

export async function file(el, path) {
  const doc = await api('/files', {path});
  const who = list => (list || []).map(e => `<a href="/runs/${enc(e.run)}">${h(e.name || e.run.slice(0, 8))}</a> ${status(e.status || '')}`).join('<br>');
  el.innerHTML = `<h1>${h(doc.host ? doc.host + ':' : '')}${h(doc.path)}</h1>
    <p><a href="/lineage?target=${enc(doc.key)}">lineage</a> · ${doc.versions.length} versions</p>
    <div class="scroll"><table><thead><tr><th>#</th><th>version</th><th>size</th><th>modified</th><th>written by</th><th>read by</th></tr></thead><tbody>${
      doc.versions.slice().reverse().map(v => `<tr><td>v${h(v.n)}</td><td><code>${h((v.version || '').slice(0, 16))}</code></td>
        <td class="num">${h(v.size ?? '')}</td><td>${h(fmtTime(v.mtime))}</td><td>${who(v.written_by)}</td><td>${who(v.read_by)}</td></tr>`).join('')}</tbody></table></div>`;
  return null;
}
