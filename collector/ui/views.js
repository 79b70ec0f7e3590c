// views.js - the page's views: runs table, compare (side by side, overlaid charts, parallel
// coordinates), lineage graph, file. The run page is runview.js.
import {api, navigate} from './app.js';
import {drawGraph} from './graph.js';
import {drawParcoords, pickAxes} from './parcoords.js';
import {chartPanel, dur, enc, fileHref, fmtTime, fmtVal, h, runLink, status} from './panels.js';

export {run} from './runview.js';

// ---- runs table ----

const DEFAULT_ORDER = 'started desc';
const RUN_COLS = [['name', 'name'], ['status', 'status'], ['experiment', 'experiment'], ['started', 'started'],
                  ['duration', 'duration']];

// A --where error at its column: the expression with a caret under the place.
function whereError(e, where) {
  const col = Number(e.doc && e.doc.column);
  const caret = col >= 1 ? `<pre class="caret" aria-hidden="true">${h(where)}\n${' '.repeat(Math.min(col - 1, where.length))}^</pre>` : '';
  return `<div class="error" id="where-error" role="alert">${h(e.message)}${caret}</div>`;
}

export async function runs(el, q) {
  const state = {where: q.get('where') || '', experiment: q.get('experiment') || '',
                 order_by: q.get('order_by') || DEFAULT_ORDER, page_token: q.get('page_token') || '',
                 cols: q.has('cols') ? q.get('cols').split(',').filter(Boolean) : null}; // null: the first 8 keys
  el.innerHTML = `<h1>Runs</h1>
    <form class="toolbar" id="filter" role="search">
      <input id="where" aria-label="filter (the --where language)" placeholder="filter: params.lr > 0.01 and status = 'finished'" value="${h(state.where)}" spellcheck="false">
      <select id="exp" aria-label="experiment"><option value="">all experiments</option>${
        state.experiment ? `<option selected>${h(state.experiment)}</option>` : ''}</select>
      <button>Filter</button>
      <button type="button" id="compare" disabled>Compare selected</button>
      <details id="colchooser"><summary>Columns</summary><fieldset class="keys"><legend>param and metric columns</legend><div id="cols"></div>
        <label>add <input id="addcol" size="18" placeholder="params.K or metrics.K" aria-label="add a column (params.K, metrics.K, tags.K)"></label></fieldset></details>
    </form>
    <div id="err"></div><div class="scroll"><table id="runs"></table></div>
    <p class="toolbar"><button id="prev">Previous</button><button id="next">Next</button><span id="count" class="muted" aria-live="polite"></span></p>`;
  const selected = new Set();
  let timer = null, alive = true, last = null, loads = 0;
  const setUrl = () => {
    const u = new URLSearchParams();
    for (const k of ['where', 'experiment', 'page_token']) if (state[k]) u.set(k, state[k]);
    if (state.order_by !== DEFAULT_ORDER) u.set('order_by', state.order_by);
    if (state.cols) u.set('cols', state.cols.join(','));
    history.replaceState(null, '', '/' + (u.toString() ? '?' + u : ''));
  };
  async function load() {
    clearTimeout(timer);
    const t0 = performance.now(), seq = ++loads; // only the latest request's answer is drawn
    let doc;
    try {
      doc = await api('/runs', {where: state.where, experiment: state.experiment, order_by: state.order_by,
                                page_token: state.page_token, limit: 100});
      if (!alive || seq !== loads) return;
      el.querySelector('#err').innerHTML = '';
    } catch (e) {
      if (!alive || seq !== loads) return;
      if (e.status === 400) {
        el.querySelector('#err').innerHTML = whereError(e, /^where:/.test(e.message) ? state.where : '');
        return;
      }
      throw e;
    }
    render(doc);
    // request to rows laid out, for tests/browser/bench.mjs (a performance entry, nothing shown)
    void el.querySelector('#runs').offsetHeight;
    performance.measure('trail:runs-load', {start: t0, end: performance.now()});
    // live refresh while a run of the page is running
    if (doc.runs.some(r => r.status === 'running')) timer = setTimeout(() => load().catch(() => {}), 3000);
  }
  function render(doc) {
    last = doc;
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.sort : null;
    const avail = new Set();
    for (const kind of ['params', 'metrics'])
      for (const r of doc.runs)
        Object.keys(r[kind] || {}).filter(k => !k.startsWith('system/')).forEach(k => avail.add(kind + '.' + k));
    const cols = state.cols || [...avail].slice(0, 8);
    for (const c of cols) avail.add(c);
    el.querySelector('#cols').innerHTML = [...avail].map(c =>
      `<label><input type="checkbox" value="${h(c)}" ${cols.includes(c) ? 'checked' : ''}>${h(c)}</label>`).join('');
    const [okey, odir] = state.order_by.split(' ');
    const head = '<th scope="col"><span class="muted" title="select to compare">✓</span></th>' +
      [...RUN_COLS, ...cols.map(c => [c, c])].map(([label, key]) => {
        const on = okey === key, sort = on ? (odir === 'asc' ? 'ascending' : 'descending') : 'none';
        return `<th scope="col" aria-sort="${sort}" class="${key.includes('.') ? 'num' : ''}"><button data-sort="${h(key)}" title="sort by ${h(key)}">${
          h(label)}${on ? (odir === 'asc' ? ' ▲' : ' ▼') : ''}</button></th>`;
      }).join('');
    const cell = (r, c) => {
      const dot = c.indexOf('.'), kind = c.slice(0, dot), k = c.slice(dot + 1);
      const v = (r[kind] || {})[k];
      return `<td class="${typeof v === 'number' ? 'num' : ''}">${h(fmtVal(v))}</td>`;
    };
    el.querySelector('#runs').innerHTML = `<thead><tr>${head}</tr></thead><tbody>` + doc.runs.map(r =>
      `<tr data-run="${h(r.id)}" class="st-${h(r.status)}"><td><input type="checkbox" aria-label="select ${h(r.name || r.id)}" value="${h(r.id)}" ${selected.has(r.id) ? 'checked' : ''}></td>
       <td class="nowrap runname" data-short="${h(r.id.slice(0, 8))}" title="${h(r.id)}">${runLink(r)}</td><td>${status(r.status)}</td><td>${h(r.experiment || '')}</td>
       <td class="nowrap">${h(fmtTime(r.started_at))}</td><td class="num">${dur(r.duration_s)}</td>${cols.map(c => cell(r, c)).join('')}</tr>`).join('') +
      (doc.runs.length ? '' : `<tr><td colspan="${6 + cols.length}" class="muted">no runs match</td></tr>`) + '</tbody>';
    el.querySelector('#count').textContent = doc.total ? `runs ${doc.offset + 1}–${doc.offset + doc.runs.length} of ${doc.total}` : 'no runs';
    if (focused) el.querySelector(`button[data-sort="${CSS.escape(focused)}"]`)?.focus(); // keyboard sorting keeps its place
    el.querySelector('#prev').disabled = !doc.offset;
    el.querySelector('#next').disabled = !doc.next_page_token;
  }
  const page = token => { state.page_token = token || ''; setUrl(); load(); };
  el.querySelector('#next').onclick = () => last && last.next_page_token && page(last.next_page_token);
  el.querySelector('#prev').onclick = () => last && page(last.prev_page_token);
  el.querySelector('#filter').addEventListener('submit', ev => {
    ev.preventDefault();
    state.where = el.querySelector('#where').value.trim();
    state.experiment = el.querySelector('#exp').value;
    const add = el.querySelector('#addcol').value.trim();
    if (add && /^(params|metrics|tags)\..+/.test(add)) {
      state.cols = [...(state.cols || [...el.querySelectorAll('#cols input:checked')].map(i => i.value)).filter(c => c !== add), add];
      el.querySelector('#addcol').value = '';
    }
    page('');
  });
  el.querySelector('#exp').addEventListener('change', () => el.querySelector('#filter').requestSubmit());
  el.querySelector('#cols').addEventListener('change', () => {
    state.cols = [...el.querySelectorAll('#cols input:checked')].map(i => i.value);
    setUrl(); render(last);
  });
  el.querySelector('#runs').addEventListener('click', ev => {
    const b = ev.target.closest('button[data-sort]');
    if (b) {
      const [okey, odir] = state.order_by.split(' ');
      const key = b.dataset.sort, textual = ['name', 'status', 'experiment'].includes(key);
      state.order_by = key + ' ' + (okey === key ? (odir === 'desc' ? 'asc' : 'desc') : textual ? 'asc' : 'desc');
      page('');
    }
    const c = ev.target.closest('input[type=checkbox]');
    if (c) {
      if (c.checked) selected.add(c.value); else selected.delete(c.value);
      el.querySelector('#compare').disabled = selected.size < 2;
      el.querySelector('#compare').textContent = `Compare selected (${selected.size})`;
    }
  });
  el.querySelector('#compare').onclick = () => navigate('/compare?runs=' + [...selected].map(enc).join(','));
  const loading = load(); // first: the API answers one request at a time
  api('/experiments').then(d => { // not waited for: the table does not need it (a scan of every run)
    if (!alive) return;
    el.querySelector('#exp').innerHTML = '<option value="">all experiments</option>' + d.experiments.filter(e => e.name).map(e =>
      `<option ${e.name === state.experiment ? 'selected' : ''}>${h(e.name)}</option>`).join('');
  }).catch(() => {});
  await loading;
  return () => { alive = false; clearTimeout(timer); };
}

// ---- compare ----

const compareUrl = ids => '/compare?runs=' + ids.map(enc).join(',');

export async function compare(el, refs) {
  const picker = `<form class="toolbar" id="addrun"><input id="addref" aria-label="add a run (name or id)" placeholder="add a run: name or id">
    <button>Add</button></form>`;
  if (refs.length < 2) {
    el.innerHTML = `<h1>Compare</h1><p>Select two or more runs in the <a href="/">runs table</a>, or add them here${
      refs.length ? ` (have: ${refs.map(h).join(', ')})` : ''}.</p>${picker}`;
    el.querySelector('#addrun').addEventListener('submit', ev => {
      ev.preventDefault();
      const v = el.querySelector('#addref').value.trim();
      if (v) navigate(compareUrl([...refs, v]));
    });
    return null;
  }
  const rs = await Promise.all(refs.map(r => api('/runs/' + enc(r))));
  const ms = await Promise.all(rs.map(r => api('/runs/' + enc(r.id) + '/metrics', {max_points: 1000})));
  const label = r => r.name || r.id.slice(0, 8);
  const differs = (get, k) => new Set(rs.map(r => JSON.stringify((get(r) || {})[k] ?? null))).size > 1;
  const rows = (section, get) => {
    const keys = [...new Set(rs.flatMap(r => Object.keys(get(r) || {})))];
    keys.sort((a, b) => differs(get, b) - differs(get, a) || a.localeCompare(b)); // differences first
    return keys.map(k => `<tr class="${differs(get, k) ? 'diff' : ''}" data-key="${h(section + '.' + k)}"><th>${h(k)}</th>${
      rs.map(r => `<td class="${differs(get, k) ? 'changed' : ''}">${h(fmtVal((get(r) || {})[k]))}</td>`).join('')}</tr>`).join('');
  };
  const head = `<tr><th></th>${rs.map((r, i) => `<th>${runLink(r)} ${status(r.status)} <button class="rm" data-i="${i}" aria-label="remove ${
    h(label(r))} from the comparison" title="remove">×</button></th>`).join('')}</tr>`;
  el.innerHTML = `<h1>Compare ${rs.length} runs</h1>${picker}
    <h2>Params</h2><div class="scroll"><table id="cmp-params" class="cmp"><thead>${head}</thead><tbody>${rows('params', r => r.params)}</tbody></table></div>
    <h2>Metrics (last values)</h2><div class="scroll"><table id="cmp-metrics" class="cmp"><thead>${head}</thead><tbody>${rows('metrics', r => r.metrics)}</tbody></table></div>
    <div id="diff"></div><div id="pc" class="panel" ${rs.length < 3 ? 'hidden' : ''}></div><div id="charts" class="panel"></div>`;
  el.querySelector('#addrun').addEventListener('submit', ev => {
    ev.preventDefault();
    const v = el.querySelector('#addref').value.trim();
    if (v) navigate(compareUrl([...rs.map(r => r.id), v]));
  });
  for (const t of el.querySelectorAll('#cmp-params, #cmp-metrics')) // (el, the page's main, outlives the view)
    t.addEventListener('click', ev => {
      const b = ev.target.closest('button.rm');
      if (b) navigate(compareUrl(rs.filter((_, i) => i !== Number(b.dataset.i)).map(r => r.id)));
    });
  const keys = [...new Set(ms.flatMap(m => Object.keys(m.metrics)))].filter(k => !k.startsWith('system/'));
  if (rs.length >= 3) parallel(el.querySelector('#pc'), rs, label);
  if (keys.length) chartPanel(el.querySelector('#charts'), 'Metrics', keys, rs.map((r, i) => ({label: label(r), metrics: ms[i].metrics})));
  if (rs.length === 2) {
    const d = await api('/diff', {a: rs[0].id, b: rs[1].id});
    el.querySelector('#diff').innerHTML = `<h2>What differs (trail diff)</h2>${d.identical ? '<p>identical</p>' :
      `<div class="scroll"><table id="cmp-diff"><thead><tr><th>section</th><th>change</th><th>name</th><th>${h(label(rs[0]))}</th><th>${h(label(rs[1]))}</th></tr></thead><tbody>${
      d.changes.map(c => `<tr><td>${h(c.section)}</td><td>${h(c.kind)}</td><td>${h(c.name)}</td><td>${h(fmtVal(c.a))}</td><td>${h(fmtVal(c.b))}</td></tr>`).join('')}</tbody></table></div>`}`;
  }
  return null;
}

// Parallel coordinates of three or more runs: params that differ, then the metrics' last values
// (system/... left out); the axes can be chosen.
function parallel(box, rs, label) {
  const runs = rs.map(r => {
    const values = {};
    for (const [k, v] of Object.entries(r.params || {})) values['params.' + k] = v;
    for (const [k, v] of Object.entries(r.metrics || {})) if (!k.startsWith('system/')) values['metrics.' + k] = v;
    return {id: r.id, label: label(r), values};
  });
  const all = [...new Set(runs.flatMap(r => Object.keys(r.values)))];
  const ordered = [...all.filter(k => k.startsWith('params.')).sort(), ...all.filter(k => k.startsWith('metrics.')).sort()];
  const usable = pickAxes(runs, ordered, k => k.startsWith('metrics.'));
  const chosen = new Set(usable.slice(0, 12));
  box.innerHTML = `<h2>Parallel coordinates</h2><fieldset class="keys"><legend>axes</legend>${usable.map(k =>
    `<label><input type="checkbox" value="${h(k)}" ${chosen.has(k) ? 'checked' : ''}>${h(k)}</label>`).join('')}</fieldset>
    <div class="scroll" id="pcbox"></div>`;
  const draw = () => drawParcoords(box.querySelector('#pcbox'), runs,
    [...box.querySelectorAll('fieldset input:checked')].map(i => i.value), r => navigate('/runs/' + enc(r.id)));
  box.querySelector('fieldset').addEventListener('change', draw);
  draw();
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
    <p><a href="/lineage?target=${enc(doc.key)}">lineage</a> · ${doc.versions.length} version${doc.versions.length === 1 ? "" : "s"}, newest first</p>
    <div class="scroll"><table><thead><tr><th>#</th><th>version</th><th>size</th><th>modified</th><th>written by</th><th>read by</th></tr></thead><tbody>${
      doc.versions.slice().reverse().map(v => `<tr><td>v${h(v.n)}</td><td><code>${h((v.version || '').slice(0, 16))}</code></td>
        <td class="num">${h(v.size ?? '')}</td><td>${h(fmtTime(v.mtime))}</td><td>${who(v.written_by)}</td><td>${who(v.read_by)}</td></tr>`).join('')}</tbody></table></div>`;
  return null;
}
