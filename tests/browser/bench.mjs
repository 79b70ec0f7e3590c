// bench.mjs BASE_URL - times, in Debian's chromium headless, the first render of the runs page
// (navigation to the first page of rows drawn) and of the run page of "big" (to its chart of
// the 1 000 000-point metric drawn). Prints one line per view: NAME median_ms (of 5).
import {chromium} from 'playwright-core';

const [base] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({viewport: {width: 1280, height: 800}});
async function time(url, selector) {
  const ms = [];
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    await page.goto(base + url);
    await page.waitForSelector(selector);
    ms.push(Date.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return ms[2];
}
console.log('runs_page_first_render_ms', await time('/', '#runs tbody tr'));
console.log('chart_1M_points_first_render_ms', await time('/runs/big', '#metrics .chartbox[data-key="wave"] canvas'));
await browser.close();
