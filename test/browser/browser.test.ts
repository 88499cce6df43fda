import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { closeBrowser, frameTexts, launchBrowser, newPage, saveScreenshot, serveFolder, type StaticServer } from './browser';

function get(url: string): Promise<{ status: number; body: string; type: string | undefined }> {
  return new Promise((ok, fail) => {
    // A raw path: URL parsing in fetch() would remove the ../ this test needs to send.
    const u = new URL(url);
    const req = request({ host: u.hostname, port: u.port, path: url.slice(u.origin.length) }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('browser helpers', () => {
  let dir: string;
  let site: StaticServer;
  let browser: Browser;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prunescope-browser-'));
    writeFileSync(
      join(dir, 'index.html'),
      '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body><h1>outer page</h1><iframe src="inner.html"></iframe>' +
        '<script src="app.js"></script></body></html>',
    );
    writeFileSync(join(dir, 'inner.html'), '<!DOCTYPE html><html><body><p>inner frame text</p></body></html>');
    writeFileSync(join(dir, 'app.js'), 'document.body.insertAdjacentHTML("beforeend", "<p id=added>" + (6 * 7) + "</p>");');
    site = await serveFolder(dir);
    browser = await launchBrowser();
  });

  after(async () => {
    if (browser) await closeBrowser(browser);
    if (site) await site.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('serveFolder serves files with their types and refuses paths outside the folder', async () => {
    const index = await get(site.url);
    assert.equal(index.status, 200);
    assert.match(index.type ?? '', /^text\/html/);
    assert.match(index.body, /outer page/);
    assert.match((await get(`${site.url}app.js`)).type ?? '', /^text\/javascript/);
    assert.equal((await get(`${site.url}missing.html`)).status, 404);
    // URL parsing folds plain ../ away; an encoded slash survives it and must be refused.
    for (const path of ['../../../../etc/passwd', '%2e%2e/%2e%2e/%2e%2e/etc/passwd']) {
      const r = await get(`${site.url}${path}`);
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(r.body, /root:/);
    }
    assert.equal((await get(`${site.url}..%2f..%2f..%2f..%2fetc%2fpasswd`)).status, 403);
  });

  test('Chromium runs the page script and frameTexts reads nested frames', async () => {
    const { page, messages } = await newPage(browser);
    await page.goto(site.url);
    await page.locator('#added').waitFor();
    assert.equal(await page.locator('#added').textContent(), '42');
    const inner = page.frames().find((f) => f.url().endsWith('/inner.html'));
    assert.ok(inner, 'the iframe was not loaded');
    await inner.locator('p').waitFor();
    const texts = await frameTexts(page);
    assert.equal(texts.length, 2);
    assert.match(texts[0].text, /outer page/);
    assert.deepEqual(await frameTexts(page, true), [{ url: `${site.url}inner.html`, text: 'inner frame text' }]);
    assert.deepEqual(
      messages.filter((m) => m.startsWith('[error]') || m.startsWith('[pageerror]')),
      [],
    );
    await page.context().close();
  });

  test('saveScreenshot writes a PNG under the artifacts folder', async () => {
    const artifacts = mkdtempSync(join(tmpdir(), 'prunescope-artifacts-'));
    const previous = process.env.PRUNESCOPE_ARTIFACTS;
    process.env.PRUNESCOPE_ARTIFACTS = artifacts;
    try {
      const { page } = await newPage(browser, { viewport: { width: 320, height: 200 } });
      await page.goto(site.url);
      const path = await saveScreenshot(page, 'outer page / test', 'browser-test');
      assert.equal(path, join(artifacts, 'browser-test', 'outer-page-test.png'));
      assert.ok(existsSync(path));
      const png = readFileSync(path);
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      assert.equal(png.readUInt32BE(16), 320, 'PNG width');
      await page.context().close();
    } finally {
      if (previous === undefined) delete process.env.PRUNESCOPE_ARTIFACTS;
      else process.env.PRUNESCOPE_ARTIFACTS = previous;
      rmSync(artifacts, { recursive: true, force: true });
    }
  });
});
