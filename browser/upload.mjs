// The file server in a real browser: Debian's chromium, headless, driven by playwright-core.
//
// For each binary named on the command line (default: target/debug/ferry and ferry-std) it
// starts `files` on 127.0.0.1:0 over a scratch root, opens the listing, and as a person would:
// uploads two files with the file picker, drops a third onto the page, creates a folder, deletes
// a file, and checks on disk after each step; then it uploads a file over --max-upload and checks
// the page shows that row as failed. Screenshots go to browser/out/ (listing-<binary>.png,
// failed-<binary>.png) for a person to look at. Exits non-zero on the first failure.
//
// Usage: node upload.mjs [BINARY...]   (CHROMIUM=/path overrides /usr/bin/chromium)

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const outDir = path.join(here, 'out');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
// Each step waits at most this long: a debug build on a loaded two-core machine is slow.
const STEP_MS = 30_000;

const binaries = process.argv.length > 2
  ? process.argv.slice(2)
  : ['target/debug/ferry', 'target/debug/ferry-std'].map((b) => path.join(repo, b));

// Starts `bin files` on a scratch root; resolves with its address once it prints it.
function startServer(bin, root, extra) {
  const child = spawn(bin, ['files', '--bind', '127.0.0.1:0', '--root', root, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FERRY_'))),
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin} did not start: ${stderr}`)), STEP_MS);
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const found = /^file server listening on (http:\/\/\S+)$/.exec(line);
      if (found) {
        clearTimeout(timer);
        resolve({ child, url: `${found[1]}/` });
      }
    });
    child.on('exit', (code) => reject(new Error(`${bin} exited ${code}: ${stderr}`)));
  });
}

async function waitFor(what, check) {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    if (check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1100, height: 720 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  return { context, profile };
}

async function exercise(bin, context) {
  const name = path.basename(bin);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `ferry-browser-${name}-`));
  const root = path.join(scratch, 'root');
  const local = path.join(scratch, 'local');
  fs.mkdirSync(path.join(root, 'photos'), { recursive: true });
  fs.mkdirSync(local);
  fs.writeFileSync(path.join(root, 'README.md'), '# shared folder\n');
  fs.writeFileSync(path.join(root, 'notes <draft>.txt'), 'a name with markup\n');
  fs.writeFileSync(path.join(root, 'photos', 'cat.jpg'), Buffer.alloc(48_213, 7));
  fs.writeFileSync(path.join(root, 'old.log'), 'to be deleted\n');
  const first = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < first.length; i++) first[i] = (i * 31 + 7) & 0xff;
  fs.writeFileSync(path.join(local, 'report 2026.pdf'), first);
  fs.writeFileSync(path.join(local, 'hello.txt'), 'hello from the browser\n');

  const { child, url } = await startServer(bin, root, ['--log', path.join(scratch, 'access.log')]);
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.on('dialog', (dialog) => {
    // The new-folder prompt gets a name; a delete's confirm is accepted.
    if (dialog.type() === 'prompt') dialog.accept('new folder');
    else dialog.accept();
  });
  try {
    await page.goto(url);
    assert.equal(await page.title(), 'Index of /');
    // Escaped, not interpreted: the name shows as text.
    assert.ok(await page.getByText('notes <draft>.txt').isVisible());

    // Two files through the picker; the page reloads once both are in and says so.
    await Promise.all([
      page.waitForEvent('load'),
      page.setInputFiles('#pick', [path.join(local, 'report 2026.pdf'), path.join(local, 'hello.txt')]),
    ]);
    await page.getByText('Uploaded 2 files.').waitFor();
    assert.deepEqual(fs.readFileSync(path.join(root, 'report 2026.pdf')), first);
    assert.equal(fs.readFileSync(path.join(root, 'hello.txt'), 'utf8'), 'hello from the browser\n');

    // A file dropped onto the page, as from a file manager.
    await Promise.all([
      page.waitForEvent('load'),
      page.evaluate(() => {
        const transfer = new DataTransfer();
        transfer.items.add(new File(['dropped bytes\n'], 'dropped.txt', { type: 'text/plain' }));
        for (const type of ['dragenter', 'dragover', 'drop']) {
          document.body.dispatchEvent(new DragEvent(type, { bubbles: true, dataTransfer: transfer }));
        }
      }),
    ]);
    assert.equal(fs.readFileSync(path.join(root, 'dropped.txt'), 'utf8'), 'dropped bytes\n');

    // A new folder (the prompt answers "new folder"), then a file deleted.
    await Promise.all([page.waitForEvent('load'), page.click('#mkdir')]);
    await waitFor('the new folder', () => fs.existsSync(path.join(root, 'new folder')));
    assert.ok(fs.statSync(path.join(root, 'new folder')).isDirectory());
    await Promise.all([
      page.waitForEvent('load'),
      page.click('button.del[data-href="old.log"]'),
    ]);
    assert.ok(!fs.existsSync(path.join(root, 'old.log')));

    // Sorting by size, largest first, from the column heading (twice: ascending, then not).
    await Promise.all([page.waitForEvent('load'), page.click('th.size button')]);
    await Promise.all([page.waitForEvent('load'), page.click('th.size button')]);
    assert.match(page.url(), /sort=size&order=desc/);
    const files = await page.$$eval('tbody tr:not(.dir) td.name a', (links) => links.map((a) => a.textContent));
    assert.equal(files[0], 'report 2026.pdf');

    await page.goto(url);
    fs.mkdirSync(outDir, { recursive: true });
    const shot = path.join(outDir, `listing-${name}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`${name}: uploaded (picker and drop), made a folder, deleted a file; ${shot}`);
  } finally {
    await page.close();
    child.kill('SIGTERM');
  }

  // An upload the server refuses: its row stays, marked failed, and nothing lands.
  const small = await startServer(bin, root, ['--max-upload', '1M', '--log', path.join(scratch, 'access2.log')]);
  const refused = await context.newPage();
  refused.setDefaultTimeout(STEP_MS);
  try {
    await refused.goto(small.url);
    fs.writeFileSync(path.join(local, 'too big.bin'), Buffer.alloc(2 * 1024 * 1024, 1));
    fs.writeFileSync(path.join(local, 'fine.txt'), 'fits\n');
    await refused.setInputFiles('#pick', [path.join(local, 'too big.bin'), path.join(local, 'fine.txt')]);
    await refused.locator('#progress li.failed .state').filter({ hasText: '413' }).waitFor();
    await refused.locator('#progress li:not(.failed) .state').filter({ hasText: 'done' }).waitFor();
    assert.ok(!fs.existsSync(path.join(root, 'too big.bin')));
    assert.equal(fs.readFileSync(path.join(root, 'fine.txt'), 'utf8'), 'fits\n');
    const shot = path.join(outDir, `failed-${name}.png`);
    await refused.screenshot({ path: shot, fullPage: true });
    console.log(`${name}: a refused upload stays marked failed; ${shot}`);
  } finally {
    await refused.close();
    small.child.kill('SIGTERM');
  }
  fs.rmSync(scratch, { recursive: true, force: true });
}

const { context, profile } = await launch();
let failed = 0;
try {
  for (const bin of binaries) {
    try {
      await exercise(bin, context);
    } catch (error) {
      failed++;
      console.error(`${path.basename(bin)}: FAILED: ${error.stack || error}`);
    }
  }
} finally {
  await context.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
console.log(`${binaries.length - failed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
