// panels.js - pieces the views share: formatting, key/value tables and the panel of metric
// charts (x axis step, time or relative time; smoothing; log scale; the keys to draw).
import {drawChart, escapeHtml as h} from './chart.js';

export {h};
export const enc = encodeURIComponent;
export const status = s => `<span class="status ${h(s)}">${h(s)}</span>`;
export const runLink = r => `<a href="/runs/${enc(r.id)}">${h(r.name || r.id.slice(0, 8))}</a>`;
export const fileHref = (path, host) => `/files?path=${enc(host ? host + ':' + path : path)}`;
export const fmtTime = t => (t ? t.replace('T', ' ').slice(0, 19) : '');
export const fmtVal = v => (typeof v === 'number' ? String(+v.toPrecision(6)) : v === null || v === undefined ? '' : String(v));
export const dur = s => (s === null || s === undefined ? '' : s < 60 ? s.toFixed(1) + 's' : s < 3600 ? (s / 60).toFixed(1) + 'm' : (s / 3600).toFixed(1) + 'h');
export const bytes = n => (n === null || n === undefined ? '' : n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KiB' :
                           n < 1073741824 ? (n / 1048576).toFixed(1) + ' MiB' : (n / 1073741824).toFixed(2) + ' GiB');

export function kvTable(obj, title) {
  const keys = Object.keys(obj || {});
  if (!keys.length) return `<h2>${title}</h2><p class="muted">none</p>`;
  return `<h2>${title}</h2><table><tbody>` +
         keys.map(k => `<tr><th>${h(k)}</th><td>${h(fmtVal(obj[k]))}</td></tr>`).join('') + '</tbody></table>';
}

// A time of the API ("...:55.673710Z") in ms, keeping the microseconds Date.parse drops.
const tMs = t => {
  const m = /\.(\d{4,})Z$/.exec(t || '');
  return Date.parse(t) + (m ? Number('0.' + m[1].slice(3)) : 0);
};
const seriesOf = (points, xKind) => {
  const t0 = points.length && points[0].time ? tMs(points[0].time) : 0;
  return points.map(p => [xKind === 'step' ? p.step : xKind === 'time' ? tMs(p.time) : (tMs(p.time) - t0) / 1000,
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

// A panel of charts for keys of docs ([{label, metrics: {key: points}}]): one chart a key, every
// doc a series in it; x axis, log scale and smoothing chosen above (opts.x: the first x axis).
// Returns update(docs): the same choices drawn again over new points (live refresh).
export function chartPanel(el, title, keys, docs, opts = {}) {
  const x0 = opts.x || 'step', id = title.toLowerCase();
  el.innerHTML = `<h2>${h(title)}</h2><div class="toolbar">
      <label>x <select class="xk" aria-label="${h(title)} x axis">${[['step', 'step'], ['time', 'time'], ['rel', 'relative time']].map(([v, t]) =>
        `<option value="${v}" ${v === x0 ? 'selected' : ''}>${t}</option>`).join('')}</select></label>
      <label><input type="checkbox" class="log"> log scale</label>
      <label>smoothing <input type="range" class="smooth" min="0" max="0.99" step="0.01" value="0" aria-label="${h(title)} smoothing"></label>
      <output class="smooth-v muted">0</output></div>
      <fieldset class="keys"><legend>${h(title)} keys</legend>${keys.map((k, i) =>
        `<label><input type="checkbox" value="${h(k)}" ${i < (opts.show || 6) ? 'checked' : ''}>${h(k)}</label>`).join('')}</fieldset>
      <div class="grid2 charts" id="charts-${h(id)}"></div>`;
  const draw = () => {
    const xKind = el.querySelector('.xk').value, log = el.querySelector('.log').checked;
    const smooth = Number(el.querySelector('.smooth').value);
    el.querySelector('.smooth-v').textContent = String(smooth);
    const box = el.querySelector('.charts');
    box.innerHTML = '';
    const todo = [];
    for (const inp of el.querySelectorAll('.keys input:checked')) { // lay every panel out first,
      const k = inp.value, c = document.createElement('div');      // then size each chart to it
      c.className = 'panel';
      c.innerHTML = `<b>${h(k)}</b><div class="chartbox" data-key="${h(k)}"></div>`;
      box.append(c);
      todo.push([k, c.querySelector('.chartbox')]);
    }
    for (const [k, cb] of todo)
      drawChart(cb, docs.map(d => ({label: d.label, points: ema(seriesOf(d.metrics[k] || [], xKind), smooth)})),
                {xKind, log, title: k});
  };
  // handlers as properties: a panel drawn again into the same element replaces them
  el.onchange = draw;
  el.oninput = ev => { if (ev.target.classList.contains('smooth')) draw(); };
  let width = el.clientWidth, pending = null;
  const onResize = () => {
    if (!el.isConnected || el.trailResize !== onResize) { window.removeEventListener('resize', onResize); return; }
    clearTimeout(pending);
    pending = setTimeout(() => { if (el.clientWidth !== width) { width = el.clientWidth; draw(); } }, 150);
  };
  el.trailResize = onResize;
  window.addEventListener('resize', onResize);
  draw();
  return fresh => { docs = fresh; draw(); };
}
