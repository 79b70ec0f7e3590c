// ui_views_test.mjs BASE_URL SHOT_DIR FILE_KEY STORE_DIR - the page's views beyond the held-back
// check, in Debian's chromium headless: sorting by a metric column, the column chooser, parallel
// coordinates of three runs, every view's URL reloaded, keyboard use, a narrow window, the runs
// table and a run's log refreshing while runs run (STORE_DIR/stop1, stop2 end them), a crash's
// backtrace, inputs by role and the system panel. Screenshots go to SHOT_DIR. Exit 0 when every
// check held.
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {checker, inkedPixels, launch, openPage} from './browser.mjs';

const [base, shots, fileKey, storeDir] = process.argv.slice(2);
const {check, failures} = checker();
const browser = await launch();
const errors = [];
const page = await openPage(browser, 1280, 800, errors);
const shot = name => page.screenshot({path: join(shots, name + '.png'), fullPage: true});
const col = async key => page.$$eval('#runs thead th', (ths, k) => ths.findIndex(t => t.querySelector(`button[data-sort="${k}"]`)), key);
const cells = async i => page.$$eval(`#runs tbody tr td:nth-child(${i + 1})`, tds => tds.map(t => t.textContent.trim()));
const names = () => page.$$eval('#runs tbody tr td:nth-child(2) a', as => as.map(a => a.textContent.trim()));
const url = () => new URL(page.url());

try {
  // ---- sort by a metric column (the server's order_by), both ways ----
  await page.goto(base + '/?where=' + encodeURIComponent("name in ('train1', 'train2', 'train3')"));
  await page.waitForSelector('#runs button[data-sort="metrics.m"]');
  await page.click('#runs button[data-sort="metrics.m"]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('order_by') === 'metrics.m desc');
  await page.waitForFunction(() => document.querySelector('#runs th[aria-sort="descending"] button')?.dataset.sort === 'metrics.m');
  let m = (await cells(await col('metrics.m'))).map(Number);
  check(m.join(',') === '249.5,149.5,99.5', `sorted by metrics.m, largest first (${m})`);
  check((await names()).join(',') === 'train1,train2,train3', `the rows follow the metric (${await names()})`);
  await page.click('#runs button[data-sort="metrics.m"]');
  await page.waitForFunction(() => document.querySelector('#runs th[aria-sort="ascending"] button')?.dataset.sort === 'metrics.m');
  m = (await cells(await col('metrics.m'))).map(Number);
  check(m.join(',') === '99.5,149.5,249.5' && url().searchParams.get('order_by') === 'metrics.m asc',
        `a second click sorts smallest first (${m})`);

  // ---- column chooser ----
  await page.click('#colchooser summary');
  await page.uncheck('#cols input[value="params.lr"]');
  await page.waitForFunction(() => !document.querySelector('#runs button[data-sort="params.lr"]'));
  check(!url().searchParams.get('cols').split(',').includes('params.lr'), `unchecking params.lr drops its column and says so in the address (${url().searchParams.get('cols')})`);
  await page.fill('#addcol', 'params.seed');
  await page.press('#addcol', 'Enter');
  await page.waitForSelector('#runs button[data-sort="params.seed"]');
  check(url().searchParams.get('cols').split(',').includes('params.seed'), 'a column added by name is shown and kept in the address');
  await shot('runs-sorted-columns');

  // ---- the runs table's URL round trip: reload gives the same filter, sort, columns, rows ----
  const before = {rows: await names(), head: await page.$$eval('#runs thead button', b => b.map(x => x.textContent))};
  await page.reload();
  await page.waitForSelector('#runs tbody tr');
  const after = {rows: await names(), head: await page.$$eval('#runs thead button', b => b.map(x => x.textContent))};
  check(JSON.stringify(before) === JSON.stringify(after) && (await page.inputValue('#where')) === "name in ('train1', 'train2', 'train3')",
        `/ reloaded keeps filter, sort and columns (${after.head.join('|')})`);

  // ---- paging: Next and Previous, and the page in the address ----
  await page.goto(base + '/');
  await page.waitForSelector('#runs tbody tr');
  const total = await page.$$eval('#runs tbody tr', r => r.length);
  await page.goto(base + '/?order_by=name%20asc&page_token=o3');
  await page.waitForSelector('#runs tbody tr');
  const p2 = await names();
  check(!(await page.isDisabled('#prev')) && /runs 4–/.test(await page.textContent('#count')), `a page reloaded from its address (${p2})`);
  await page.click('#prev');
  await page.waitForFunction(() => !new URL(location.href).searchParams.get('page_token') || new URL(location.href).searchParams.get('page_token') === 'o0');
  await page.waitForFunction(() => /runs 1–/.test(document.querySelector('#count').textContent));
  const p1 = await names();
  check(p1.length === total && p1[3] === p2[0], `Previous goes back to the first page (${p1})`);

  // ---- parallel coordinates of three runs ----
  await page.goto(base + '/compare?runs=train1,train2,train3');
  await page.waitForSelector('svg.parcoords');
  const axes = await page.$eval('svg.parcoords', s => s.dataset.axes);
  check(axes === 'params.lr,params.opt,metrics.m', `the axes are the params that differ and the metric, not the equal epochs (${axes})`);
  const lines = await page.$$eval('svg.parcoords path.line', ps => ps.map(p => ({run: p.dataset.run, d: p.getAttribute('d')})));
  check(lines.length === 3 && lines.every(l => (l.d.match(/[ML]/g) || []).length === 3), `one line per run through the three axes (${lines.length})`);
  // lr 0.1 < 0.2 < 0.3 upward on the first axis: y falls from train1 to train3; m the other way;
  // opt is text: adam at the bottom (train1, train3), sgd at the top (train2)
  const ys = lines.map(l => l.d.match(/[ML][\d.]+,([\d.]+)/g).map(s => Number(s.split(',')[1])));
  check(ys[0][0] > ys[1][0] && ys[1][0] > ys[2][0] && ys[0][2] < ys[1][2] && ys[1][2] < ys[2][2],
        `the lines cross the number axes at their values (${JSON.stringify(ys)})`);
  check(ys[0][1] === ys[2][1] && ys[1][1] < ys[0][1], 'the text axis puts each run at its category');
  const ticks = await page.$$eval('svg.parcoords g.axis[data-key="params.lr"] text.tick', t => t.map(x => x.textContent));
  check(ticks.includes('0.1') && ticks.includes('0.3'), `the lr axis runs from 0.1 to 0.3 (${ticks})`);
  const cats = await page.$$eval('svg.parcoords g.axis[data-key="params.opt"] text.tick', t => t.map(x => x.textContent));
  check(cats.join() === 'adam,sgd' && await page.$eval('svg.parcoords g.axis[data-key="params.opt"]', g => g.dataset.kind) === 'cat',
        `the opt axis lists its categories (${cats})`);
  await shot('compare-parcoords');
  await page.reload();
  await page.waitForSelector('svg.parcoords');
  check((await page.$$eval('#cmp-params thead th a', a => a.map(x => x.textContent))).join(',') === 'train1,train2,train3',
        '/compare?runs=A,B,C reloaded shows the same runs');
  // a click on the middle of train2's first segment (where no other line passes)
  const [[ax, ay], [bx, by]] = lines[1].d.match(/[ML][\d.]+,[\d.]+/g).slice(0, 2).map(v => v.slice(1).split(',').map(Number));
  await page.$eval('svg.parcoords', s => s.scrollIntoView());
  const sb = await (await page.$('svg.parcoords')).boundingBox();
  await page.mouse.click(sb.x + (ax + bx) / 2, sb.y + (ay + by) / 2);
  await page.waitForURL(/\/runs\//);
  check(url().pathname === '/runs/' + lines[1].run, 'a click on a line opens its run');

  // ---- lineage: a directory of many files is one folded node; a click shows its files ----
  await page.goto(base + '/lineage?target=shard');
  await page.waitForSelector('svg.graph .node');
  const folded = await page.$$eval('svg.graph .node title', t => t.map(x => x.textContent).filter(x => /shards\/ \(9 files\)/.test(x)));
  const shardNodes = await page.$$eval('svg.graph .node title', t => t.filter(x => /shards\/p\d\.csv/.test(x.textContent)).length);
  check(folded.length === 1 && shardNodes === 0, `the 9 files under shards/ are one node (${folded})`);
  await page.click('svg.graph .node:has(title:text-matches("9 files"))');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('files') === '1');
  await page.waitForFunction(() => [...document.querySelectorAll('svg.graph .node title')].filter(t => /shards\/p\d\.csv/.test(t.textContent)).length === 9);
  check(true, 'a click on the folded node draws its 9 files');
  await shot('lineage-unfolded');

  // ---- lineage up and down from a file: its writer upstream, its readers downstream ----
  const runsOf = () => page.$$eval('svg.graph .node.run title', t => t.map(x => x.textContent.split(' ')[0]));
  for (const [dir, want, not] of [['up', 'prep', 'train1'], ['down', 'train1', 'prep']]) {
    await page.goto(base + `/lineage?target=${encodeURIComponent(fileKey)}&direction=${dir}`);
    await page.waitForSelector('svg.graph .node.root');
    const rs = await runsOf();
    check(rs.includes(want) && !rs.includes(not) && (await page.inputValue('#lopts select')) === dir,
          `lineage ${dir} of feat.csv shows ${want}, not ${not} (${rs})`);
  }

  // ---- compare: add a run by name, remove one (in the page, without reloading) ----
  await page.goto(base + '/compare?runs=train1,train2');
  await page.waitForSelector('#cmp-params');
  await page.fill('#addref', 'train3');
  await page.press('#addref', 'Enter');
  await page.waitForSelector('svg.parcoords');
  const hist = await page.evaluate(() => history.length);
  await page.click('#cmp-params thead button.rm[data-i="0"]');
  await page.waitForFunction(() => document.querySelectorAll('#cmp-params thead th a').length === 2);
  const left = await page.$$eval('#cmp-params thead th a', a => a.map(x => x.textContent));
  check(left.join() === 'train2,train3' && !(await page.$('svg.parcoords')) && await page.evaluate(() => history.length) === hist + 1,
        `adding train3 and removing train1 leaves train2,train3, one step of history (${left})`);

  // ---- the other views reload from their address ----
  for (const [u, sel, what] of [['/runs/train1', '#metrics .chartbox canvas', 'run'],
                                ['/lineage?target=prep', 'svg.graph .node.root', 'lineage'],
                                ['/files?path=' + encodeURIComponent(fileKey), 'main table tbody tr', 'file']]) {
    await page.goto(base + u);
    await page.waitForSelector(sel);
    const a = await page.textContent('main');
    await page.reload();
    await page.waitForSelector(sel);
    check((await page.textContent('main')) === a && url().pathname + url().search === u, `${what} page ${u} reloads the same`);
  }

  // ---- run page: chart options, inputs by role, processes, dependencies, environment, crash
  // backtrace, system panel, live tail ----
  await page.goto(base + '/runs/train1');
  await page.waitForSelector('#metrics .chartbox[data-key="m"] canvas');
  const cb = () => page.$eval('#metrics .chartbox[data-key="m"]', e => ({...e.dataset}));
  let c0 = await cb();
  check(c0.x === 'step' && c0.xrange === '0,499' && c0.yrange === '0,249.5', `m is drawn over steps 0-499, values 0-249.5 (${c0.xrange} ${c0.yrange})`);
  await page.selectOption('#metrics .xk', 'rel');
  let c1 = await cb();
  const [r0, r1] = c1.xrange.split(',').map(Number);
  check(c1.x === 'rel' && r0 === 0 && r1 > 0 && r1 < 600, `x as relative time runs from 0 s to the last point's seconds (${c1.xrange})`);
  await page.selectOption('#metrics .xk', 'time');
  c1 = await cb();
  check(c1.x === 'time' && Number(c1.xrange.split(',')[0]) > 1.7e12, `x as time is the wall clock (${c1.xrange})`);
  await page.check('#metrics .log');
  c1 = await cb();
  check(c1.scale === 'log' && Math.abs(Number(c1.yrange.split(',')[1]) - Math.log10(249.5)) < 1e-9, `log scale draws log10 of the values (${c1.yrange})`);
  await page.uncheck('#metrics .log');
  await page.fill('#metrics .smooth', '0.9');
  c1 = await cb();
  check(Number(c1.yrange.split(',')[1]) < 249.5 && Number(c1.yrange.split(',')[1]) > 200, `smoothing lowers the rising line's end (${c1.yrange})`);
  check(await page.$$eval('#proctree li', l => l.length) >= 1 && await page.$$eval('#deps tr', r => r.length) >= 1 &&
        /Environment \(\d+ variables/.test(await page.textContent('#env summary')), 'the process tree, dependencies and environment are shown');
  await page.waitForSelector('#inputs section[data-role="data"]');
  const data = await page.textContent('#inputs section[data-role="data"]');
  check(data.includes('feat.csv') && await page.$('#inputs section[data-role="env"]') !== null, 'train1\'s feat.csv is under its data inputs, by directory');
  await page.goto(base + '/runs/crash');
  await page.waitForSelector('#backtrace');
  const bt = await page.textContent('#backtrace');
  check(/#0 /.test(bt) && /signal 11/.test(await page.textContent('#crash')), `a crashed run shows its signal and backtrace (${bt.split('\n')[0]})`);
  await shot('run-crash');
  await page.goto(base + '/runs/live1');
  await page.waitForSelector('#log-stdout');
  await page.waitForFunction(() => document.querySelector('#log-stdout').textContent.includes('live-start'));
  check(await page.$eval('h1 .status', s => s.textContent) === 'running', 'live1 is running');
  await page.waitForSelector('#system .chartbox');
  const sysKeys = await page.$$eval('#system .chartbox', c => c.map(x => x.dataset.key));
  const userKeys = await page.$$eval('#metrics .chartbox', c => c.map(x => x.dataset.key));
  check(sysKeys.length > 0 && sysKeys.every(k => k.startsWith('system/')) && !userKeys.some(k => k.startsWith('system/')),
        `system/ metrics have their own panel (${sysKeys})`);
  writeFileSync(join(storeDir, 'stop1'), '');
  await page.waitForFunction(() => document.querySelector('#log-stdout').textContent.includes('live-done'), null, {timeout: 60000});
  await page.waitForFunction(() => document.querySelector('h1 .status').textContent === 'finished', null, {timeout: 60000});
  check(true, 'the run page followed live1 to its last line and its end without a reload');
  await page.reload();
  await page.waitForSelector('#proctree');
  const grp = await page.$$eval('#proctree .procgroup > details > summary', s => s.map(x => x.textContent));
  const n = grp.length ? Number((/×(\d+)/.exec(grp[0]) || [])[1]) : 0;
  check(grp.length === 1 && /sleep 0\.1/.test(grp[0]) && n >= 4 &&
        await page.$$eval('#proctree .procgroup li', l => l.length) === n, `the shell loop's ${n} sleeps are one line of the process tree (${grp})`);
  await shot('run-live');

  // ---- the runs table refreshes itself while a run runs ----
  await page.goto(base + '/?where=' + encodeURIComponent("name = 'live2'"));
  await page.waitForSelector('#runs tbody tr .status');
  check(await page.textContent('#runs tbody tr .status') === 'running', 'live2 is running in the table');
  writeFileSync(join(storeDir, 'stop2'), '');
  await page.waitForFunction(() => document.querySelector('#runs tbody tr .status')?.textContent === 'finished', null, {timeout: 60000});
  check(true, 'the table shows live2 finished without a reload');

  // ---- keyboard: filter, sort, open a run, read a chart, follow a lineage node ----
  await page.goto(base + '/');
  await page.waitForSelector('#runs tbody tr');
  const focusTo = async (pred, max = 60) => {
    for (let i = 0; i < max; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(pred)) return true;
    }
    return false;
  };
  check(await focusTo(() => document.activeElement.id === 'where'), 'Tab reaches the filter box');
  await page.keyboard.type("name = 'train2'");
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#runs tbody tr').length === 1);
  check((await names()).join() === 'train2', 'Enter in the filter box filters');
  check(await focusTo(() => document.activeElement.dataset.sort === 'name'), 'Tab reaches a column\'s sort button');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('order_by') === 'name asc');
  check(await page.evaluate(() => document.activeElement.dataset.sort === 'name'), 'Enter sorts and the focus stays on the button');
  check(await focusTo(() => document.activeElement.matches('#runs tbody a')), 'Tab reaches the run\'s link');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#metrics .chartbox canvas');
  check(url().pathname.startsWith('/runs/'), 'Enter on the link opens the run');
  check(await focusTo(() => document.activeElement.matches('#metrics canvas')), 'Tab reaches a chart');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('End');
  check(await page.isVisible('#metrics .chartbox .tip') && /train2: [\d.]+/.test(await page.textContent('#metrics .chartbox .tip')),
        'arrow keys on a focused chart show its values');
  await page.goto(base + '/lineage?target=prep');
  await page.waitForSelector('svg.graph .node');
  check(await focusTo(() => document.activeElement.matches('svg.graph .node.file')), 'Tab reaches a lineage node');
  const target = await page.evaluate(() => document.activeElement.querySelector('title').textContent);
  await page.keyboard.press('Enter');
  await page.waitForFunction(t => (document.querySelector('svg.graph .node.root title')?.textContent || '').startsWith(t.split(' @')[0]) &&
                                  new URL(location.href).searchParams.get('target') !== 'prep', target);
  check(true, `Enter on a node moves the graph to it (${target})`);

  // ---- a narrow window: nothing wider than the window but the tables' own scrolling ----
  const narrow = await openPage(browser, 400, 800, errors);
  for (const [u, sel, name] of [['/', '#runs tbody tr', 'runs'], ['/runs/train1', '#metrics canvas', 'run'],
                                ['/compare?runs=train1,train2,train3', 'svg.parcoords', 'compare'],
                                ['/lineage?target=prep', 'svg.graph', 'lineage']]) {
    await narrow.goto(base + u);
    await narrow.waitForSelector(sel);
    const w = await narrow.evaluate(() => document.documentElement.scrollWidth);
    check(w <= 400, `${name} at 400 px wide needs no sideways page scroll (${w})`);
    if (u === '/runs/train1')
      check(await inkedPixels(await narrow.$('#metrics canvas')) > 50, 'its chart is drawn at that width');
    await narrow.screenshot({path: join(shots, `narrow-${name}.png`), fullPage: true});
  }
} catch (e) {
  check(false, 'no exception: ' + e.message);
  await shot('views-failure').catch(() => {});
}
check(errors.length === 0, `no console errors (${errors.join(' | ')})`);
await browser.close();
process.exit(failures.length ? 1 : 0);
