// bench.mjs RUNS_URL CHART_URL REPS - the web UI's timings in Debian's chromium headless
// (playwright-core), each beside its baseline, the API request alone (fetch from the page, the
// same query): the runs page's first render (navigation to the first rows drawn), a --where filter,
// sorting by a metric, a param and the name, the next page, and the first render of a run's chart
// of 1 000 000 points (CHART_URL serves the run "big" of tests/ui_seed.c). The measurements are
// interleaved REPS times; one line per measurement: "ms NAME VARIANT VALUE", and the page's
// memory: "mib NAME VALUE" / "count NAME VALUE" (JS heap, DOM nodes of a fresh tab on the runs
// page after a garbage collection). Times are wall clock in this
// process around each action (a few ms of driving overhead included).
import {launch} from './browser.mjs';

const [runsBase, chartBase, repsArg] = process.argv.slice(2);
const REPS = Math.max(5, Number(repsArg) || 5);
const browser = await launch();
const page = await browser.newPage({viewport: {width: 1280, height: 800}});
const errors = [];
page.on('pageerror', e => errors.push(String(e)));
page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });
const out = (name, variant, v) => console.log(`ms ${name}\t${variant}\t${v.toFixed(1)}`);

// The API alone, from inside the page (same origin, same headers as the page's own requests).
const apiMs = async (base, path) => {
  if (new URL(page.url()).origin !== new URL(base).origin) await page.goto(base + '/compare'); // the page, with no request of its own
  return page.evaluate(async p => {
    const t0 = performance.now();
    const r = await fetch(p);
    await r.json();
    return performance.now() - t0;
  }, path);
};
// The action's wall time here, and the page's own measure of it (collector/ui/views.js's
// 'trail:runs-load': request to rows laid out; for a first render, from navigation start).
let inPage = null;
const timed = async (fn, first = false) => {
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  inPage = await page.evaluate(f => {
    const e = performance.getEntriesByName('trail:runs-load');
    if (!e.length) return null;
    const x = f ? e[0] : e[e.length - 1];
    return f ? x.startTime + x.duration : x.duration;
  }, first);
  return ms;
};
const countIs = re => page.waitForFunction(r => new RegExp(r).test(document.querySelector('#count')?.textContent || ''), re.source);
const sorted = key => page.waitForFunction(k => document.querySelector('#runs th[aria-sort="descending"] button')?.dataset.sort === k, key);

async function firstRender() {
  await page.goto('about:blank');
  return timed(async () => { await page.goto(runsBase + '/'); await page.waitForSelector('#runs tbody tr'); }, true);
}
async function filter(where) {
  await page.goto(runsBase + '/');
  await page.waitForSelector('#runs tbody tr');
  const before = await page.textContent('#count');
  await page.fill('#where', where);
  return timed(async () => {
    await page.press('#where', 'Enter');
    await page.waitForFunction(b => document.querySelector('#count').textContent !== b, before);
  });
}
async function sort(key) {
  await page.goto(runsBase + '/?cols=' + encodeURIComponent('params.seed,metrics.loss'));
  await page.waitForSelector(`#runs button[data-sort="${key}"]`);
  return timed(async () => {
    await page.click(`#runs button[data-sort="${key}"]`);
    if (key === 'name') await page.waitForFunction(() => document.querySelector('#runs th[aria-sort="ascending"] button')?.dataset.sort === 'name');
    else await sorted(key);
  });
}
async function nextPage() {
  await page.goto(runsBase + '/');
  await page.waitForSelector('#runs tbody tr');
  return timed(async () => { await page.click('#next'); await countIs(/^runs 101–/); });
}
async function chart() {
  await page.goto('about:blank');
  return timed(async () => {
    await page.goto(chartBase + '/runs/big');
    await page.waitForFunction(() => Number(document.querySelector('#metrics .chartbox[data-key="wave"]')?.dataset.points) > 0);
  });
}

const W1 = "params.seed = '21'", W2 = 'metrics.loss < 0.5';
const q = s => '?' + new URLSearchParams(s).toString();
const cases = [
  ['runs page first render', () => apiMs(runsBase, '/api/runs?limit=100'), firstRender],
  [`filter ${W1}`, () => apiMs(runsBase, '/api/runs' + q({where: W1, limit: 100})), () => filter(W1)],
  [`filter ${W2}`, () => apiMs(runsBase, '/api/runs' + q({where: W2, limit: 100})), () => filter(W2)],
  ['sort by metrics.loss', () => apiMs(runsBase, '/api/runs' + q({order_by: 'metrics.loss desc', limit: 100})), () => sort('metrics.loss')],
  ['sort by params.seed', () => apiMs(runsBase, '/api/runs' + q({order_by: 'params.seed desc', limit: 100})), () => sort('params.seed')],
  ['sort by name', () => apiMs(runsBase, '/api/runs' + q({order_by: 'name asc', limit: 100})), () => sort('name')],
  ['next page', () => apiMs(runsBase, '/api/runs?limit=100&page_token=o100'), nextPage],
  ['chart of 1000000 points first render', () => apiMs(chartBase, '/api/runs/big/metrics?max_points=1000'), chart],
];
await page.goto(runsBase + '/'); // warm: the first navigation starts the browser's processes
await page.waitForSelector('#runs tbody tr');
for (let r = 0; r < REPS; r++)
  for (const [name, api, ui] of cases) {
    out(name, 'API request alone', await api());
    inPage = null;
    out(name, 'page', await ui());
    if (inPage !== null) out(name, 'page, its own measure', inPage);
  }
// memory: a fresh tab on the runs page, after a garbage collection
await page.close();
const fresh = await browser.newPage({viewport: {width: 1280, height: 800}});
const cdp = await fresh.context().newCDPSession(fresh);
await cdp.send('Performance.enable');
await fresh.goto(runsBase + '/');
await fresh.waitForSelector('#runs tbody tr');
await cdp.send('HeapProfiler.collectGarbage');
const {metrics} = await cdp.send('Performance.getMetrics');
const m = Object.fromEntries(metrics.map(x => [x.name, x.value]));
console.log(`mib runs page JS heap used\t${(m.JSHeapUsedSize / 1048576).toFixed(2)}`);
console.log(`count runs page DOM nodes\t${m.Nodes}`);
await browser.close();
if (errors.length) { console.error('console errors: ' + errors.join(' | ')); process.exit(1); }
