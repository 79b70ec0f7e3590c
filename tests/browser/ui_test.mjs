// ui_test.mjs BASE_URL SHOT_DIR FILE_KEY - drives Debian's chromium headless (playwright-core) over
// the trail page served by traild: the runs table lists and filters the seeded runs, a run page
// draws its chart, compare shows the changed param, the lineage graph draws nodes and edges and
// moves on a click; a screenshot of each view goes to SHOT_DIR. Exit 0 when every check held.
import {join} from 'node:path';
import {checker, inkedPixels, launch, openPage} from './browser.mjs';

const [base, shots, fileKey] = process.argv.slice(2);
const {check, failures} = checker();
// launch() starts chromium with a new empty profile of its own (a fresh --user-data-dir).
const browser = await launch();
const errors = [];
let expect400 = false; // the bad filter's request answers 400, which chromium logs
const page = await openPage(browser, 1280, 800, errors, text => expect400 && /status of 400/.test(text));
const rows = () => page.$$eval('#runs tbody tr', trs => trs.map(t => t.querySelector('td:nth-child(2)').textContent.trim()));

try {
  // runs table
  await page.goto(base + '/');
  await page.waitForSelector('#runs tbody tr');
  let names = await rows();
  check(['prep', 'train1', 'train2', 'train3'].every(n => names.includes(n)), `runs table lists the seeded runs (${names})`);
  await page.screenshot({path: join(shots, 'runs.png'), fullPage: true});
  const f = 'params.lr > 0.15 and params.lr < 0.25';
  await page.fill('#where', f);
  await page.click('#filter button');
  await page.waitForFunction(() => document.querySelectorAll('#runs tbody tr').length === 1);
  names = await rows();
  check(names.length === 1 && names[0] === 'train2', `filter ${f} keeps train2 (${names})`);
  check(new URL(page.url()).searchParams.get('where') === f, 'the filter is in the address');
  await page.fill('#where', 'params.lr >');
  expect400 = true;
  await page.click('#filter button');
  await page.waitForSelector('#where-error');
  expect400 = false;
  const msg = await page.textContent('#where-error');
  check(/column \d+/.test(msg), `a bad filter shows its error with the column (${msg})`);
  await page.screenshot({path: join(shots, 'runs-filter-error.png')});

  // run page
  await page.goto(base + '/runs/train1');
  await page.waitForSelector('#metrics .chartbox canvas');
  const points = await page.$eval('#metrics .chartbox[data-key="m"]', e => Number(e.dataset.points));
  check(points >= 2, `the run page draws the chart of m (${points} points)`);
  const inked = await inkedPixels(await page.$('#metrics .chartbox[data-key="m"] canvas'));
  check(inked > 50, `the chart has coloured line pixels (${inked})`);
  const canvas = await page.$('#metrics .chartbox[data-key="m"] canvas');
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  check(await page.isVisible('#metrics .chartbox[data-key="m"] .tip'), 'hovering the chart shows values');
  await page.screenshot({path: join(shots, 'run.png'), fullPage: true});

  // compare
  await page.goto(base + '/compare?runs=train1,train2');
  await page.waitForSelector('#cmp-params tr[data-key="params.lr"]');
  const lr = await page.$eval('#cmp-params tr[data-key="params.lr"]', t => ({diff: t.classList.contains('diff'),
    cells: [...t.querySelectorAll('td')].map(c => c.textContent)}));
  check(lr.diff && lr.cells.join(',') === '0.1,0.2', `compare marks params.lr as changed (${lr.cells})`);
  const first = await page.$eval('#cmp-params tbody tr', t => t.dataset.key);
  check(first === 'params.lr', `differences come first (${first})`);
  await page.waitForSelector('#charts canvas');
  await page.screenshot({path: join(shots, 'compare.png'), fullPage: true});

  // lineage
  await page.goto(base + '/lineage?target=prep');
  await page.waitForSelector('svg.graph .node');
  const nodes = await page.$$eval('svg.graph .node', n => n.length);
  const edges = await page.$$eval('svg.graph .edge', n => n.length);
  check(nodes >= 3 && edges >= 2, `lineage of prep draws nodes and edges (${nodes} nodes, ${edges} edges)`);
  await page.screenshot({path: join(shots, 'lineage.png'), fullPage: true});
  const feat = await page.$('svg.graph .node.file:has(title:text-matches("feat\\\\.csv"))');
  check(!!feat, 'the graph has a node for feat.csv');
  if (feat) {
    await feat.click();
    await page.waitForFunction(() => new URL(location.href).searchParams.get('target')?.includes('feat.csv'));
    await page.waitForSelector('svg.graph .node.root');
    const root = await page.$eval('svg.graph .node.root title', t => t.textContent);
    check(root.includes('feat.csv'), `a click moves the graph to the file (root ${root})`);
    const runs = await page.$$eval('svg.graph .node.run title', t => t.map(x => x.textContent));
    check(runs.some(r => r.includes('train1')), `its graph shows train1 reading it (${runs})`);
    await page.screenshot({path: join(shots, 'lineage-file.png'), fullPage: true});
  }

  // file page
  await page.goto(base + '/files?path=' + encodeURIComponent(fileKey));
  await page.waitForSelector('main table tbody tr');
  const who = await page.textContent('main table tbody');
  check(who.includes('prep') && who.includes('train1'), 'the file page names its writer and reader');
  await page.screenshot({path: join(shots, 'file.png'), fullPage: true});
} catch (e) {
  check(false, 'no exception: ' + e.message);
  await page.screenshot({path: join(shots, 'failure.png'), fullPage: true}).catch(() => {});
}
check(errors.length === 0, `no console errors (${errors.join(' | ')})`);
await browser.close();
process.exit(failures.length ? 1 : 0);
