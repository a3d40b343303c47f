// The chat in a real browser: Debian's chromium, headless, driven by playwright-core, as
// upload.mjs drives the file server.
//
// For each binary named on the command line (default: target/debug/ferry and ferry-std) it
// starts `chat --web` on 127.0.0.1:0, connects a raw TCP chat client (as chat-client would),
// opens the chat page twice, joins as ann and bob, and checks that every message reaches the
// other two: page to page, page to terminal, terminal to pages, with the history and the joins
// shown and a message with markup shown as text; then an account: registered from a page,
// refused with a wrong password or to a guest, logged in again from another page. Screenshots of both pages go to browser/out/
// (chat-<binary>-ann.png, chat-<binary>-bob.png). Exits non-zero on the first failure.
//
// Usage: node chat.mjs [BINARY...]   (CHROMIUM=/path overrides /usr/bin/chromium)

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import fs from 'node:fs';
import net from 'node:net';
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

// Starts `bin chat --web`; resolves with the TCP address and the page's URL once printed.
function startServer(bin) {
  // Its own folder: the room's kept history and accounts (storage/) start empty for each binary.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-chat-page-'));
  const child = spawn(path.resolve(bin), ['chat', '--bind', '127.0.0.1:0', '--web', '127.0.0.1:0'], {
    cwd: work,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FERRY_'))),
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin} did not start: ${stderr}`)), STEP_MS);
    const lines = createInterface({ input: child.stdout });
    let tcp = null;
    lines.on('line', (line) => {
      const chat = /^chat server listening on tcp:\/\/(\S+):(\d+)$/.exec(line);
      if (chat) tcp = { host: chat[1], port: Number(chat[2]) };
      const web = /^chat web page listening on (http:\/\/\S+)$/.exec(line);
      if (web && tcp) {
        clearTimeout(timer);
        resolve({ child, tcp, url: `${web[1]}/` });
      }
    });
    child.on('exit', (code) => {
      fs.rmSync(work, { recursive: true, force: true });
      reject(new Error(`${bin} exited ${code}: ${stderr}`));
    });
  });
}

// A terminal's client: JSON lines over TCP, every line it got kept in order.
function terminal(address) {
  const socket = net.connect(address);
  const received = [];
  createInterface({ input: socket }).on('line', (line) => received.push(JSON.parse(line)));
  return {
    received,
    send: (object) => socket.write(`${JSON.stringify(object)}\n`),
    close: () => socket.destroy(),
  };
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
    // A phone's width: the page must read there.
    viewport: { width: 390, height: 720 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  return { context, profile };
}

// Opens the chat page and fills the join form: a guest's name, or with `password` an account's
// ('join' logs in, 'register' registers). Waits for `joinedAs` unless it is null.
async function openPage(context, url, name, { password = '', action = 'join', joinedAs = name } = {}) {
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(url);
  assert.equal(await page.title(), 'ferry chat');
  await page.locator('#status').filter({ hasText: 'connected' }).waitFor();
  await page.fill('#name', name);
  await page.fill('#password', password);
  await page.click(`#join button[value="${action}"]`);
  if (joinedAs !== null) {
    await page.getByText(`you joined as ${joinedAs}`).waitFor();
  }
  return { page, errors };
}

function joinPage(context, url, name) {
  return openPage(context, url, name);
}

// An account from the page: register, leave, log in again from a new page under another
// case of the name; a wrong password is refused on the page, and a guest cannot take it.
async function accounts(context, url, term) {
  const secret = 'correct horse battery';
  const first = await openPage(context, url, 'dora', { password: secret, action: 'register' });
  await waitFor('the terminal to hear dora join', () =>
    term.received.some((l) => l.type === 'join' && l.username === 'dora'));
  await first.page.close();
  const wrong = await openPage(context, url, 'dora', { password: 'not the password', joinedAs: null });
  await wrong.page.locator('#join-error').filter({ hasText: /./ }).waitFor();
  assert.equal(await wrong.page.locator('#say').isHidden(), true);
  const guest = await openPage(context, url, 'dora', { joinedAs: null });
  await guest.page.locator('#join-error').filter({ hasText: /./ }).waitFor();
  const again = await openPage(context, url, 'DORA', { password: secret, joinedAs: 'dora' });
  await say(again.page, 'dora is back');
  await waitFor('dora to reach the terminal', () =>
    term.received.some((l) => l.username === 'dora' && l.message === 'dora is back'));
  const errors = [...first.errors, ...wrong.errors, ...guest.errors, ...again.errors];
  for (const open of [wrong, guest, again]) await open.page.close();
  assert.deepEqual(errors, []);
}

async function say(page, text) {
  await page.fill('#text', text);
  await page.click('#say button');
}

// The log's entries as "name|text" (a notice or error: "|text").
async function entries(page) {
  return page.$$eval('#log li', (items) => items.map((item) => {
    const name = item.querySelector('.name');
    const who = name ? name.textContent : '';
    return `${who}|${item.textContent.slice(who.length)}`;
  }));
}

async function exercise(bin, context) {
  const name = path.basename(bin);
  const { child, tcp, url } = await startServer(bin);
  const term = terminal(tcp);
  let ann = null;
  let bob = null;
  try {
    term.send({ username: 'terminal', message: 'said before the pages came' });
    await waitFor('the terminal to join', () => term.received.some((l) => l.type === 'join'));

    ann = await joinPage(context, url, 'ann');
    await ann.page.getByText('said before the pages came').waitFor();
    bob = await joinPage(context, url, 'bob');
    await ann.page.getByText('bob joined').waitFor();
    await waitFor('the terminal to hear both joins', () =>
      ['ann', 'bob'].every((n) => term.received.some((l) => l.type === 'join' && l.username === n)));

    // Markup in a message is text, never HTML.
    const markup = 'hi from ann <b>bold</b> <img src=x onerror=alert(1)>';
    await say(ann.page, markup);
    await bob.page.getByText(markup).waitFor();
    assert.equal(await bob.page.locator('#log b, #log img').count(), 0);
    await waitFor('ann to reach the terminal', () =>
      term.received.some((l) => l.username === 'ann' && l.message === markup));

    await say(bob.page, 'hi from bob ✓');
    await ann.page.getByText('hi from bob ✓').waitFor();
    await waitFor('bob to reach the terminal', () =>
      term.received.some((l) => l.username === 'bob' && l.message === 'hi from bob ✓'));

    term.send({ username: 'terminal', message: 'hi from the terminal' });
    await ann.page.getByText('hi from the terminal').waitFor();
    await bob.page.getByText('hi from the terminal').waitFor();

    // Each page shows the others' messages once, and its own once.
    const annLog = await entries(ann.page);
    assert.equal(annLog.filter((e) => e === 'bob|hi from bob ✓').length, 1, annLog.join('\n'));
    assert.equal(annLog.filter((e) => e === `ann|${markup}`).length, 1, annLog.join('\n'));
    assert.deepEqual([...ann.errors, ...bob.errors], []);

    fs.mkdirSync(outDir, { recursive: true });
    for (const [who, { page }] of [['ann', ann], ['bob', bob]]) {
      const shot = path.join(outDir, `chat-${name}-${who}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`${name}: ${who}'s page: ${shot}`);
    }
    console.log(`${name}: two pages and a terminal client heard each other`);
    await accounts(context, url, term);
    console.log(`${name}: a page registered, was refused a wrong password, logged in again`);
  } finally {
    term.close();
    for (const open of [ann, bob]) {
      if (open) await open.page.close();
    }
    child.kill('SIGTERM');
  }
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
