// runview.js - a run's page: command, status, times, params, tags; metric charts (system/...
// on their own panel); crash; logs with a live tail; inputs by role and directory, outputs;
// process tree; dependencies; environment. While the run is running it refreshes itself.
import {api, showError} from './app.js';
import {bytes, chartPanel, dur, enc, fileHref, fmtTime, fmtVal, h, kvTable, status} from './panels.js';

const REFRESH_MS = 3000;

function procTree(procs) {
  const kids = new Map(), pids = new Set(procs.map(p => p.pid));
  for (const p of procs) {
    const parent = pids.has(p.ppid) ? p.ppid : 0;
    (kids.get(parent) || kids.set(parent, []).get(parent)).push(p);
  }
  const execs = p => (p.exec || []).slice(1).map(e => `<div class="muted">exec → <code>${h((e.argv || []).join(' ') || e.exe || '')}</code></div>`).join('');
  const li = p => `<li><code>${h(p.pid)}</code> <code>${h((p.argv || []).join(' ') || p.exe || '')}</code> ${status(p.status || '')}${
    p.exit_code !== null && p.exit_code !== undefined ? ' exit ' + h(p.exit_code) : ''}${p.signal ? ' signal ' + h(p.signal) : ''}${
    p.interposed === false ? ' <span class="muted">(not captured)</span>' : ''}${
    p.resources ? ` <span class="muted">${h(p.resources.utime_s ?? 0)}s user, ${bytes((p.resources.maxrss_kb ?? 0) * 1024)} max RSS</span>` : ''}${
    execs(p)}${p.backtrace ? `<details><summary>backtrace</summary><pre class="log">${h(p.backtrace)}</pre></details>` : ''}${
    kids.has(p.pid) ? `<ul class="tree">${siblings(kids.get(p.pid))}</ul>` : ''}</li>`;
  // Siblings running the same command (a shell loop's sleeps, a pool's workers) as one line
  // that opens onto them, when there are GROUP or more.
  const siblings = list => {
    const groups = new Map();
    for (const p of list) {
      const k = (p.argv || []).join(' ') || p.exe || '';
      (groups.get(k) || groups.set(k, []).get(k)).push(p);
    }
    return [...groups].map(([cmd, ps]) => {
      if (ps.length < GROUP) return ps.map(li).join('');
      const st = {};
      for (const p of ps) { const k = (p.status || '?') + (p.exit_code ? ' exit ' + p.exit_code : ''); st[k] = (st[k] || 0) + 1; }
      return `<li class="procgroup"><details><summary><code>${h(cmd)}</code> ×${ps.length} <span class="muted">${
        Object.entries(st).map(([k, n]) => `${n} ${h(k)}`).join(', ')}</span></summary><ul class="tree">${ps.map(li).join('')}</ul></details></li>`;
    }).join('');
  };
  return `<ul class="tree" id="proctree">${siblings(kids.get(0) || [])}</ul>`;
}
const GROUP = 4;

const dirOf = p => (p.lastIndexOf('/') > 0 ? p.slice(0, p.lastIndexOf('/')) : '/');
const FOLD = 8; // a directory of this many files or more starts closed

// Files grouped by directory: a directory's files under a heading that opens and closes.
function byDirectory(list, extra) {
  const dirs = new Map();
  for (const f of list) {
    const d = (f.host ? f.host + ':' : '') + dirOf(f.path);
    (dirs.get(d) || dirs.set(d, []).get(d)).push(f);
  }
  return [...dirs].map(([d, fs]) => {
    const size = fs.reduce((s, f) => s + (f.bytes || 0), 0);
    return `<details class="dir" ${fs.length < FOLD ? 'open' : ''}><summary><code>${h(d)}/</code> <span class="muted">${
      fs.length} file${fs.length === 1 ? '' : 's'}, ${bytes(size)}</span></summary><table><tbody>${fs.map(f =>
      `<tr><td><a href="${fileHref(f.path, f.host)}">${h(f.path.slice(f.path.lastIndexOf('/') + 1))}</a></td>
       <td><code>${h((f.version || '').slice(0, 12))}</code></td><td class="num">${bytes(f.bytes)}</td>${extra ? extra(f) : ''}</tr>`).join('')}</tbody></table></details>`;
  }).join('');
}

// Inputs by role: data, then code (each by directory), then the environment one group a line.
function inputsView(inputs) {
  if (!inputs || !inputs.length) return '<h2>Inputs</h2><p class="muted">none</p>';
  const role = r => inputs.filter(f => (f.role || 'data') === r);
  const other = inputs.filter(f => !['data', 'code', 'env'].includes(f.role || 'data'));
  let out = '<h2>Inputs</h2>';
  for (const [r, title] of [['data', 'Data'], ['code', 'Code']]) {
    const fs = role(r).concat(r === 'data' ? other : []);
    out += `<section class="role" data-role="${r}"><h3>${title} <span class="muted">(${fs.length})</span></h3>${
      fs.length ? byDirectory(fs) : '<p class="muted">none</p>'}</section>`;
  }
  const groups = new Map();
  for (const f of role('env')) {
    const g = f.group || dirOf(f.path);
    (groups.get(g) || groups.set(g, []).get(g)).push(f);
  }
  out += `<section class="role" data-role="env"><h3>Environment files <span class="muted">(${role('env').length} in ${groups.size} groups)</span></h3>${
    [...groups].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0])).map(([g, fs]) =>
      `<details class="dir"><summary>${h(g)} <span class="muted">${fs.length} file${fs.length === 1 ? '' : 's'}, ${
        bytes(fs.reduce((s, f) => s + (f.bytes || 0), 0))}</span></summary>${byDirectory(fs)}</details>`).join('') || '<p class="muted">none</p>'}</section>`;
  return out;
}

function outputsView(outputs) {
  if (!outputs || !outputs.length) return '<h2>Outputs</h2><p class="muted">none</p>';
  return `<h2>Outputs <span class="muted">(${outputs.length})</span></h2><section class="role" data-role="outputs">${
    byDirectory(outputs, f => `<td class="muted">${f.writes > 1 ? h(f.writes) + ' writes' : ''}${f.versions > 1 ? ', ' + h(f.versions) + ' versions' : ''}</td>`)}</section>`;
}

function crashView(r) {
  const parts = [];
  if (r.crash) parts.push(`<p>process <code>${h(r.crash.pid)}</code> died of signal ${h(r.crash.signal)}</p>` +
                          (r.crash.backtrace ? `<pre class="log" id="backtrace">${h(r.crash.backtrace)}</pre>` : ''));
  if (r.stderr_tail) parts.push(`<pre class="log" id="traceback">${h(r.stderr_tail)}</pre>`);
  return parts.length ? `<h2>Crash</h2>${parts.join('')}` : '';
}

function header(r) {
  const res = r.resources || {};
  return `<h1>${h(r.name || r.id)} ${status(r.status)}</h1>
    <dl class="kv"><dt>id</dt><dd><code>${h(r.id)}</code></dd><dt>experiment</dt><dd>${h(r.experiment || '')}</dd>
      <dt>command</dt><dd><code>${h((r.argv || []).join(' '))}</code></dd><dt>directory</dt><dd>${h(r.cwd || '')}</dd>
      <dt>host / user</dt><dd>${h(r.host || '')} / ${h(r.user || '')}</dd>
      <dt>started</dt><dd>${h(fmtTime(r.started_at))}</dd><dt>ended</dt><dd>${h(fmtTime(r.ended_at))} (${dur(r.duration_s)})</dd>
      <dt>exit</dt><dd>${h(r.exit_code ?? '')}${r.signal ? ' signal ' + h(r.signal) : ''}</dd>
      ${res.maxrss_kb !== undefined ? `<dt>resources</dt><dd>${h(res.utime_s)}s user, ${h(res.stime_s)}s system, ${bytes(res.maxrss_kb * 1024)} max RSS</dd>` : ''}
      <dt>records dropped</dt><dd class="${r.dropped ? 'changed' : ''}">${h(r.dropped ?? 0)}</dd></dl>`;
}

export async function run(el, ref) {
  let r = await api('/runs/' + enc(ref));
  const m = await api('/runs/' + enc(r.id) + '/metrics', {max_points: 1000});
  el.innerHTML = `<div id="head">${header(r)}</div>
    <p><a href="/lineage?target=${enc(r.id)}">lineage</a> · <a href="/compare?runs=${enc(r.id)}">compare…</a></p>
    <div class="grid2"><div>${kvTable(r.params, 'Params')}</div><div>${kvTable(r.tags, 'Tags')}</div></div>
    <div id="crash">${crashView(r)}</div>
    <div id="metrics" class="panel"></div><div id="system" class="panel"></div>
    <div id="logs"><h2>Logs</h2><label><input type="checkbox" id="follow" checked> follow the end</label>
      <div class="grid2"><div><h3>stdout</h3><pre class="log" id="log-stdout" tabindex="0"></pre></div>
      <div><h3>stderr</h3><pre class="log" id="log-stderr" tabindex="0"></pre></div></div></div>
    <div id="inputs">${inputsView(r.inputs)}</div><div id="outputs">${outputsView(r.outputs)}</div>
    <h2>Processes <span class="muted">(${(r.processes || []).length})</span></h2>${procTree(r.processes || [])}
    <h2>Dependencies <span class="muted">(${(r.deps || []).length})</span></h2><div class="scroll"><table id="deps"><tbody>${(r.deps || []).map(d =>
      `<tr><td>${h(d.package || d.path || '')}</td><td>${h(d.version || '')}</td><td>${h(d.kind || '')}</td><td class="muted">${h(d.source || '')}</td></tr>`).join('') ||
      '<tr><td class="muted">none</td></tr>'}</tbody></table></div>
    <details id="env"><summary>Environment (${Object.keys(r.env || {}).length} variables, secrets redacted)</summary>${kvTable(r.env, 'Environment')}</details>`;
  const label = r.name || r.id.slice(0, 8);
  let panels = [];
  const charts = metrics => {
    const keys = Object.keys(metrics);
    const user = keys.filter(k => !k.startsWith('system/')), sys = keys.filter(k => k.startsWith('system/'));
    const docs = [{label, metrics}];
    if (panels.length === 2 && panels[0].n === user.length && panels[1].n === sys.length) {
      for (const p of panels) if (p.update) p.update(docs);
      return;
    }
    const mel = el.querySelector('#metrics'), sel = el.querySelector('#system');
    panels = [{n: user.length, update: user.length ? chartPanel(mel, 'Metrics', user, docs) : null},
              {n: sys.length, update: sys.length ? chartPanel(sel, 'System', sys, docs, {x: 'rel'}) : null}];
    if (!user.length) mel.innerHTML = '<h2>Metrics</h2><p class="muted">none logged</p>';
    sel.hidden = !sys.length;
  };
  charts(m.metrics);
  let timer = null, alive = true;
  const logs = async () => {
    const [out, err] = await Promise.all([api(`/runs/${enc(r.id)}/logs`, {stream: 'stdout', tail: 500}),
                                          api(`/runs/${enc(r.id)}/logs`, {stream: 'stderr', tail: 500})]);
    if (!alive) return;
    for (const [name, d] of [['stdout', out], ['stderr', err]]) {
      const pre = el.querySelector('#log-' + name);
      if (pre.textContent !== (d.text || '')) pre.textContent = d.text || '';
      if (!d.text) pre.innerHTML = '<span class="muted">nothing kept</span>';
      if (el.querySelector('#follow').checked) pre.scrollTop = pre.scrollHeight;
    }
  };
  // While running: the logs' tail, the charts, the status and the crash again every few seconds.
  const tick = async () => {
    try {
      const [fresh, fm] = await Promise.all([api('/runs/' + enc(r.id)), api('/runs/' + enc(r.id) + '/metrics', {max_points: 1000})]);
      if (!alive) return;
      r = fresh;
      el.querySelector('#head').innerHTML = header(r);
      el.querySelector('#crash').innerHTML = crashView(r);
      charts(fm.metrics);
      await logs();
    } catch (e) { if (alive) showError(el.querySelector('#logs'), e); return; }
    if (alive && r.status === 'running') timer = setTimeout(tick, REFRESH_MS);
  };
  try { await logs(); } catch (e) { showError(el.querySelector('#logs'), e); }
  if (r.status === 'running') timer = setTimeout(tick, REFRESH_MS);
  return () => { alive = false; clearTimeout(timer); };
}
