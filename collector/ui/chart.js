// chart.js - a line chart on a canvas: several series, x by step or time, log scale, hover.
// The server downsamples (max_points), so a series holds at most a few thousand points.

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2',
                '#17becf', '#7f7f7f', '#bcbd22'];

export function color(i) { return COLORS[i % COLORS.length]; }

function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(v);
  return ticks;
}

function fmtNum(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(2);
  return String(+v.toPrecision(4));
}

function fmtX(v, kind) {
  if (kind === 'time') return new Date(v).toISOString().slice(11, 19);
  if (kind === 'rel') return fmtNum(v) + 's';
  return fmtNum(v);
}

// series: [{label, points: [[x, y], ...] sorted by x}]; opts: {xKind, log, title}
export function drawChart(el, series, opts = {}) {
  el.innerHTML = '';
  el.classList.add('chart');
  const canvas = document.createElement('canvas');
  const tip = document.createElement('div');
  tip.className = 'tip';
  tip.hidden = true;
  el.append(canvas, tip);
  const legend = document.createElement('div');
  legend.className = 'legend';
  series.forEach((s, i) => {
    const item = document.createElement('span');
    item.innerHTML = `<i style="background:${color(i)}"></i>`;
    item.append(document.createTextNode(s.label));
    legend.append(item);
  });
  el.append(legend);
  const ys = v => (opts.log ? (v > 0 ? Math.log10(v) : NaN) : v);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity, count = 0;
  for (const s of series)
    for (const [x, y] of s.points) {
      const v = ys(y);
      if (!Number.isFinite(v) || !Number.isFinite(x)) continue;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, v); y1 = Math.max(y1, v);
      count++;
    }
  const W = Math.max(el.clientWidth || 600, 240), H = opts.height || 260;
  const dpr = window.devicePixelRatio || 1;
  canvas.width = W * dpr; canvas.height = H * dpr;
  canvas.style.width = W + 'px'; canvas.style.height = H + 'px';
  const g = canvas.getContext('2d');
  g.scale(dpr, dpr);
  const L = 64, R = 12, T = 12, B = 28, pw = W - L - R, ph = H - T - B;
  el.dataset.points = String(count);
  // what is drawn, for tests and tools: x kind, y scale, the data's ranges (log10 of y when log)
  Object.assign(el.dataset, {x: opts.xKind || 'step', scale: opts.log ? 'log' : 'linear',
                             xrange: `${x0},${x1}`, yrange: `${y0},${y1}`});
  if (!count) {
    g.fillStyle = '#888';
    g.fillText('no finite values to draw', L + 10, T + 20);
    return;
  }
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
  const px = x => L + ((x - x0) / (x1 - x0)) * pw;
  const py = v => T + ph - ((v - y0) / (y1 - y0)) * ph;
  g.font = '11px sans-serif';
  g.strokeStyle = '#ddd'; g.fillStyle = '#555'; g.lineWidth = 1;
  for (const t of niceTicks(y0, y1, 5)) {
    const y = py(t);
    g.beginPath(); g.moveTo(L, y); g.lineTo(L + pw, y); g.stroke();
    g.textAlign = 'right';
    g.fillText(opts.log ? fmtNum(Math.pow(10, t)) : fmtNum(t), L - 4, y + 4);
  }
  for (const t of niceTicks(x0, x1, 6)) {
    const x = px(t);
    g.beginPath(); g.moveTo(x, T); g.lineTo(x, T + ph); g.stroke();
    g.textAlign = 'center';
    g.fillText(fmtX(t, opts.xKind), x, T + ph + 16);
  }
  series.forEach((s, i) => {
    g.strokeStyle = color(i); g.lineWidth = 1.5; g.beginPath();
    let pen = false;
    for (const [x, y] of s.points) {
      const v = ys(y);
      if (!Number.isFinite(v)) { pen = false; continue; }
      if (pen) g.lineTo(px(x), py(v)); else g.moveTo(px(x), py(v));
      pen = true;
    }
    g.stroke();
    if (s.points.length === 1 && Number.isFinite(ys(s.points[0][1]))) { // a lone point: a dot
      g.fillStyle = color(i);
      g.beginPath(); g.arc(px(s.points[0][0]), py(ys(s.points[0][1])), 3, 0, 2 * Math.PI); g.fill();
    }
  });
  const snapshot = g.getImageData(0, 0, canvas.width, canvas.height);
  // The values nearest x (canvas pixels) in every series, under a cursor line.
  const showAt = mx => {
    const xv = x0 + ((mx - L) / pw) * (x1 - x0);
    g.putImageData(snapshot, 0, 0);
    g.strokeStyle = '#999'; g.beginPath(); g.moveTo(mx, T); g.lineTo(mx, T + ph); g.stroke();
    const rows = [];
    series.forEach((s, i) => {
      const p = s.points;
      if (!p.length) return;
      let lo = 0, hi = p.length - 1;
      while (lo < hi) { const m = (lo + hi) >> 1; if (p[m][0] < xv) lo = m + 1; else hi = m; }
      if (lo > 0 && Math.abs(p[lo - 1][0] - xv) < Math.abs(p[lo][0] - xv)) lo--;
      rows.push(`<div><i style="background:${color(i)}"></i>${escapeHtml(s.label)}: ` +
                `${fmtNum(p[lo][1])} <small>@ ${fmtX(p[lo][0], opts.xKind)}</small></div>`);
    });
    tip.innerHTML = rows.join('');
    tip.hidden = false;
    tip.style.left = Math.max(0, Math.min(mx + 12, W - 200)) + 'px';
    tip.style.top = T + 'px';
  };
  const hide = () => { tip.hidden = true; g.putImageData(snapshot, 0, 0); };
  canvas.addEventListener('mouseleave', hide);
  canvas.addEventListener('mousemove', ev => {
    const mx = ev.clientX - canvas.getBoundingClientRect().left;
    if (mx >= L && mx <= L + pw) showAt(mx);
  });
  // From the keyboard: focus the chart, then arrows move the cursor (Home/End: the ends).
  let kx = L;
  canvas.tabIndex = 0;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `chart of ${opts.title || 'a metric'}: ${series.map(s => s.label).join(', ')}; ` +
                                    'arrow keys show values');
  canvas.addEventListener('blur', hide);
  canvas.addEventListener('keydown', ev => {
    const step = ev.shiftKey ? pw / 10 : pw / 100;
    if (ev.key === 'ArrowRight') kx = Math.min(L + pw, kx + step);
    else if (ev.key === 'ArrowLeft') kx = Math.max(L, kx - step);
    else if (ev.key === 'Home') kx = L;
    else if (ev.key === 'End') kx = L + pw;
    else return;
    ev.preventDefault();
    showAt(kx);
  });
}

export function escapeHtml(s) {
  return String(s ?? '').replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;',
                                                     '"': '&quot;', "'": '&#39;'}[c]));
}
