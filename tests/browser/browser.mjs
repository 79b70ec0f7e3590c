// browser.mjs - what the browser tests share: Debian's chromium headless through playwright-core
// (a fresh profile each launch), a page that collects console errors, and ok/FAIL checks.
import {chromium} from 'playwright-core';

export async function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A page of the given size; errors collects console errors and uncaught exceptions, except a
// console line matching allow() (an expected 400, which chromium logs).
export async function openPage(browser, width, height, errors, allow = () => false) {
  const page = await browser.newPage({viewport: {width, height}});
  page.on('console', m => { if (m.type() === 'error' && !allow(m.text())) errors.push(m.text()); });
  page.on('pageerror', e => errors.push(String(e)));
  return page;
}

export function checker() {
  const failures = [];
  const check = (ok, what) => { console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`); if (!ok) failures.push(what); };
  return {check, failures};
}

// The number of coloured (not grey) pixels a canvas holds: a drawn line, not only axes.
export const inkedPixels = canvas => canvas.evaluate(c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i + 3] && (d[i] !== d[i + 1] || d[i + 1] !== d[i + 2])) n++;
  return n;
});
