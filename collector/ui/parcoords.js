// parcoords.js - parallel coordinates in SVG: one vertical axis per param or metric, one line per
// run through its values; numbers on a linear axis (min at the bottom), text as categories.
import {color, escapeHtml as h} from './chart.js';

const NS = 'http://www.w3.org/2000/svg';

const fmt = v => (typeof v === 'number' ? String(+v.toPrecision(4)) : String(v));
// A value as the axis reads it: a number when it is one or reads as one.
const num = v => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(+v) ? +v : NaN);

// The axes worth drawing for runs ([{values: {key: v}}]) over keys: those at least two runs have;
// a param whose runs all agree says nothing and is left out unless keep(key).
export function pickAxes(runs, keys, keep = () => false) {
  return keys.filter(k => {
    const vs = runs.map(r => r.values[k]).filter(v => v !== undefined && v !== null);
    if (vs.length < 2) return false;
    return keep(k) || new Set(vs.map(v => JSON.stringify(v))).size > 1;
  });
}

function scaleOf(runs, key) {
  const vs = runs.map(r => r.values[key]).filter(v => v !== undefined && v !== null);
  if (vs.every(v => Number.isFinite(num(v)))) {
    const ns = vs.map(num), lo = Math.min(...ns), hi = Math.max(...ns);
    return {kind: 'num', lo, hi, at: v => (hi === lo ? 0.5 : (num(v) - lo) / (hi - lo)),
            ticks: hi === lo ? [lo] : [lo, (lo + hi) / 2, hi]};
  }
  const cats = [...new Set(vs.map(String))].sort();
  return {kind: 'cat', cats, at: v => (cats.length === 1 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1)),
          ticks: cats};
}

const el = (name, attrs = {}, text) => {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};

// runs: [{id, label, values: {key: value}}]; axes: [key]. Draws into box; a click on a line
// calls onPick(run). The SVG carries data-axes (the keys in order) for tests and tools.
export function drawParcoords(box, runs, axes, onPick) {
  box.innerHTML = '';
  if (axes.length < 2) {
    box.innerHTML = '<p class="muted">fewer than two params or metrics differ between these runs</p>';
    return;
  }
  const W = Math.max(box.clientWidth || 800, 120 * axes.length), H = 320, T = 36, B = 28, L = 60, R = 60;
  const ph = H - T - B, gap = (W - L - R) / (axes.length - 1);
  const svg = el('svg', {class: 'parcoords', width: W, height: H, role: 'img',
                         'aria-label': `parallel coordinates of ${runs.length} runs over ${axes.join(', ')}`});
  svg.dataset.axes = axes.join(',');
  const scales = axes.map(k => scaleOf(runs, k));
  const y = (i, v) => T + ph - scales[i].at(v) * ph;
  const lines = el('g', {class: 'lines'});
  svg.append(lines);
  axes.forEach((k, i) => {
    const x = L + i * gap, s = scales[i], g = el('g', {class: 'axis', transform: `translate(${x},0)`});
    g.dataset.key = k;
    g.dataset.kind = s.kind;
    g.append(el('line', {x1: 0, x2: 0, y1: T, y2: T + ph}));
    g.append(el('text', {class: 'name', y: T - 14, 'text-anchor': 'middle'}, k.length > 24 ? '…' + k.slice(-23) : k));
    for (const t of s.ticks) {
      const ty = y(i, t);
      g.append(el('line', {class: 'tick', x1: -4, x2: 4, y1: ty, y2: ty}));
      g.append(el('text', {class: 'tick', x: -7, y: ty + 4, 'text-anchor': 'end'}, fmt(t)));
    }
    svg.append(g);
  });
  runs.forEach((r, ri) => {
    let d = '', pen = false;
    axes.forEach((k, i) => {
      const v = r.values[k];
      if (v === undefined || v === null) { pen = false; return; }
      d += `${pen ? 'L' : 'M'}${(L + i * gap).toFixed(1)},${y(i, v).toFixed(1)}`;
      pen = true;
    });
    const p = el('path', {class: 'line', d, stroke: color(ri)});
    p.dataset.run = r.id;
    p.append(el('title', {}, r.label + '\n' + axes.map(k => `${k}: ${r.values[k] === undefined ? '–' : fmt(r.values[k])}`).join('\n')));
    p.addEventListener('click', () => onPick(r));
    p.addEventListener('mouseenter', () => { svg.classList.add('hl'); p.classList.add('on'); });
    p.addEventListener('mouseleave', () => { svg.classList.remove('hl'); p.classList.remove('on'); });
    lines.append(p);
  });
  box.append(svg);
  const legend = document.createElement('div');
  legend.className = 'legend';
  legend.innerHTML = runs.map((r, i) => `<span><i style="background:${color(i)}"></i><a href="/runs/${
    encodeURIComponent(r.id)}" data-run="${h(r.id)}">${h(r.label)}</a></span>`).join('');
  // a run's link, hovered or focused, shows its line above the others
  const mark = (ev, on) => {
    const a = ev.target.closest && ev.target.closest('a[data-run]');
    if (!a) return;
    svg.classList.toggle('hl', on);
    for (const p of lines.children) p.classList.toggle('on', on && p.dataset.run === a.dataset.run);
  };
  for (const [ev, on] of [['mouseover', true], ['mouseout', false], ['focusin', true], ['focusout', false]])
    legend.addEventListener(ev, e => mark(e, on));
  box.append(legend);
}
