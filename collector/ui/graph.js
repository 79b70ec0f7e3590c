// graph.js - a layered drawing of a lineage graph in SVG: runs and files in columns by their
// distance along the edges, ordered to keep edges short; a click on a node calls back.

const NS = 'http://www.w3.org/2000/svg';

// Columns: the longest path from a source (edges point from input to run to output).
function layers(nodes, edges) {
  const layer = new Map(nodes.map(n => [n.id, 0]));
  for (let pass = 0; pass < nodes.length; pass++) {
    let changed = false;
    for (const e of edges) {
      const a = layer.get(e.from), b = layer.get(e.to);
      if (a === undefined || b === undefined) continue;
      if (b < a + 1 && a + 1 <= nodes.length) { layer.set(e.to, a + 1); changed = true; }
    }
    if (!changed) break;
  }
  return layer;
}

export function layout(nodes, edges) {
  const layer = layers(nodes, edges), cols = [];
  for (const n of nodes) (cols[layer.get(n.id)] ||= []).push(n);
  const pos = new Map();
  const place = () => cols.forEach((c, ci) => c && c.forEach((n, i) => pos.set(n.id, {x: ci, y: i})));
  place();
  const nbrs = id => edges.filter(e => e.from === id || e.to === id)
                          .map(e => pos.get(e.from === id ? e.to : e.from)).filter(Boolean);
  for (let sweep = 0; sweep < 4; sweep++) { // barycenter ordering
    for (const c of cols) {
      if (!c) continue;
      const key = new Map(c.map((n, i) => {
        const ns = nbrs(n.id);
        return [n.id, ns.length ? ns.reduce((s, p) => s + p.y, 0) / ns.length : i];
      }));
      c.sort((a, b) => key.get(a.id) - key.get(b.id));
    }
    place();
  }
  return pos;
}

// A file's label as its last two path parts ("…/shards/p1.csv", "…/data/shards/ (9 files)"):
// the name says more than the start of a long path; the node's title keeps the whole label.
function shortPath(label) {
  const m = /^(.*?)((?:\/)? \(\d+ files\))?$/.exec(label);
  const parts = m[1].split('/').filter(Boolean);
  return (parts.length > 2 ? '…/' + parts.slice(-2).join('/') : m[1]) + (m[2] ? '/' + m[2].replace(/^\//, '') : '');
}

// Draws into el; onClick(node) on a click or Enter on a focused node.
export function drawGraph(el, doc, onClick) {
  el.innerHTML = '';
  const nodes = doc.nodes || [], edges = doc.edges || [];
  const pos = layout(nodes, edges);
  const CW = 260, RH = 56, NW = 210, NH = 36, M = 20;
  const ncols = Math.max(1, ...[...pos.values()].map(p => p.x + 1));
  const nrows = Math.max(1, ...[...pos.values()].map(p => p.y + 1));
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('width', ncols * CW + 2 * M);
  svg.setAttribute('height', nrows * RH + 2 * M);
  svg.setAttribute('class', 'graph');
  const at = id => { const p = pos.get(id); return {x: M + p.x * CW, y: M + p.y * RH}; };
  const defs = document.createElementNS(NS, 'defs');
  defs.innerHTML = '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" ' +
                   'markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="#888"/></marker>';
  svg.append(defs);
  for (const e of edges) {
    if (!pos.has(e.from) || !pos.has(e.to)) continue;
    const a = at(e.from), b = at(e.to);
    const x1 = a.x + NW, y1 = a.y + NH / 2, x2 = b.x, y2 = b.y + NH / 2, mx = (x1 + x2) / 2;
    const p = document.createElementNS(NS, 'path');
    p.setAttribute('d', `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`);
    p.setAttribute('class', 'edge ' + (e.kind || ''));
    p.setAttribute('marker-end', 'url(#arrow)');
    svg.append(p);
  }
  for (const n of nodes) {
    const {x, y} = at(n.id);
    const g = document.createElementNS(NS, 'g');
    g.setAttribute('class', `node ${n.kind}${n.id === doc.root ? ' root' : ''} ${n.status || ''}`);
    g.setAttribute('transform', `translate(${x},${y})`);
    g.setAttribute('tabindex', '0');
    g.setAttribute('role', 'link');
    g.dataset.id = n.id;
    const r = document.createElementNS(NS, 'rect');
    r.setAttribute('width', NW); r.setAttribute('height', NH);
    r.setAttribute('rx', n.kind === 'run' ? 3 : 12);
    const t = document.createElementNS(NS, 'text');
    t.setAttribute('x', 8); t.setAttribute('y', 22);
    const label = String(n.label || n.id);
    const shown = n.kind === 'run' ? label : shortPath(label);
    t.textContent = shown.length > 30 ? '…' + shown.slice(-29) : shown;
    const title = document.createElementNS(NS, 'title');
    title.textContent = label + (n.version ? ' @' + n.version : '') + (n.status ? ' ' + n.status : '');
    g.append(r, t, title);
    g.addEventListener('click', () => onClick(n));
    g.addEventListener('keydown', ev => { if (ev.key === 'Enter') onClick(n); });
    svg.append(g);
  }
  el.append(svg);
}
