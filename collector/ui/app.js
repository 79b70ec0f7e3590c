// app.js - the page's core: the API token, fetching JSON, and routes to the views.
import * as views from './views.js';

// A token given once in the address (?token=..., as trail ui prints it) is kept for the tab.
const params = new URLSearchParams(location.search);
if (params.has('token')) {
  sessionStorage.setItem('trail-token', params.get('token'));
  params.delete('token');
  const q = params.toString();
  history.replaceState(null, '', location.pathname + (q ? '?' + q : ''));
}

export class ApiError extends Error {
  constructor(status, doc) {
    super(doc && doc.error ? doc.error : 'HTTP ' + status);
    this.status = status;
    this.doc = doc || {};
  }
}

export async function api(path, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const token = sessionStorage.getItem('trail-token');
  const res = await fetch('/api' + path + (q.toString() ? '?' + q : ''),
                          {headers: token ? {Authorization: 'Bearer ' + token} : {}});
  let doc = null;
  try { doc = await res.json(); } catch (e) { doc = null; }
  if (!res.ok) throw new ApiError(res.status, doc);
  return doc;
}

export function navigate(url) {
  history.pushState(null, '', url);
  route();
}

let current = null; // the view's cleanup (timers)

export async function route() {
  if (current) current();
  current = null;
  const app = document.getElementById('app');
  const path = location.pathname, q = new URLSearchParams(location.search);
  let m;
  try {
    if ((m = path.match(/^\/runs\/([^/]+)$/))) current = await views.run(app, decodeURIComponent(m[1]));
    else if (path === '/compare') current = await views.compare(app, (q.get('runs') || '').split(',').filter(Boolean));
    else if (path === '/lineage') current = await views.lineage(app, q);
    else if (path === '/files') current = await views.file(app, q.get('path') || '');
    else current = await views.runs(app, q);
  } catch (e) {
    showError(app, e);
  }
}

export function showError(el, e) {
  if (e instanceof ApiError && e.status === 401) {
    el.innerHTML = '<h1>Token needed</h1><p>This server wants the token it printed at start.</p>' +
                   '<form id="tok"><input id="tokin" aria-label="token" autocomplete="off"> <button>Use</button></form>';
    el.querySelector('#tok').addEventListener('submit', ev => {
      ev.preventDefault();
      sessionStorage.setItem('trail-token', el.querySelector('#tokin').value.trim());
      route();
    });
    return;
  }
  el.innerHTML = '';
  const d = document.createElement('div');
  d.className = 'error';
  d.textContent = e.message || String(e);
  el.append(d);
}

// Links inside the page move without reloading it.
document.addEventListener('click', ev => {
  const a = ev.target.closest && ev.target.closest('a[href]');
  if (!a || a.target || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
  const u = new URL(a.href, location.href);
  if (u.origin !== location.origin || u.pathname.startsWith('/api')) return;
  ev.preventDefault();
  navigate(u.pathname + u.search);
});
window.addEventListener('popstate', route);
route();
