// Headless Chromium (Debian's build, which decodes H.264 and AAC) driven by playwright-core, with
// every request and response of a page recorded for later checks.

import { rmSync } from 'node:fs';

import { chromium } from 'playwright-core';

import { CHROMIUM_PATH, makeTempDir } from './env.mjs';

// The browser must reach nothing but 127.0.0.1 and must not phone home.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

/** A browser with one page whose traffic is recorded. */
export class RecordedBrowser {
  static async launch() {
    const userDataDir = makeTempDir('chromium');
    // launchPersistentContext passes userDataDir as --user-data-dir, so each run starts from a
    // fresh profile.
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 1400 },
    });
    return new RecordedBrowser(context, userDataDir);
  }

  constructor(context, userDataDir) {
    this.context = context;
    this.userDataDir = userDataDir;
    /** Every request: `{ url, method, resourceType, headers }` with all headers sent. */
    this.requests = [];
    /** Every response: `{ url, status, headers, body }`, `body` a Buffer (empty when unavailable). */
    this.responses = [];
    this.bodyReads = [];
    this.consoleErrors = [];
    context.on('request', (request) => this.recordRequest(request));
    context.on('response', (response) => this.bodyReads.push(this.recordResponse(response)));
  }

  async recordRequest(request) {
    const entry = { url: request.url(), method: request.method(), resourceType: request.resourceType(), headers: {} };
    this.requests.push(entry);
    try {
      entry.headers = await request.allHeaders();
    } catch {
      entry.headers = request.headers();
    }
  }

  async recordResponse(response) {
    const entry = { url: response.url(), status: response.status(), headers: {}, body: Buffer.alloc(0) };
    this.responses.push(entry);
    try {
      entry.headers = await response.allHeaders();
    } catch {
      entry.headers = response.headers();
    }
    // Redirects and preflights have no body to read; everything else does.
    try {
      entry.body = await response.body();
    } catch {
      entry.body = Buffer.alloc(0);
    }
  }

  /** Opens `url` in a new page and returns the page. */
  async open(url) {
    const page = await this.context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') {
        this.consoleErrors.push(message.text());
      }
    });
    const response = await page.goto(url, { waitUntil: 'load' });
    if (!response || response.status() !== 200) {
      throw new Error(`loading ${url} returned ${response?.status()}`);
    }
    return page;
  }

  /** Waits until every response seen so far has been read, headers and body. */
  async settle() {
    await Promise.all(this.bodyReads);
  }

  async close() {
    await this.context.close().catch(() => {});
    rmSync(this.userDataDir, { recursive: true, force: true });
  }
}
