// Locations and prerequisites of the end-to-end tests, and small helpers shared by them.
//
// Nothing here builds anything: the caller builds `vylux` (passing its path in VYLUX_BIN) and the
// edge worker (`bash edge/build.sh`, which writes edge/build/) before running the tests.

import { existsSync, mkdtempSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** Repository root. */
export const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
/** Folder for screenshots; ignored by git except its .gitkeep. */
export const ARTIFACTS_DIR = join(ROOT, 'tests', 'e2e', 'artifacts');
/** Real media from other projects' test suites (VYLUX_FIXTURES, default ../shared/fixtures). */
export const FIXTURES_DIR = resolve(process.env.VYLUX_FIXTURES ?? join(ROOT, '..', 'shared', 'fixtures'));
/** The edge worker as built by edge/build.sh. */
export const EDGE_ENTRY = join(ROOT, 'edge', 'build', 'index.js');
/** hls.js as installed by `npm ci`. */
export const HLS_JS_PATH = join(ROOT, 'node_modules', 'hls.js', 'dist', 'hls.min.js');
/** wrangler as installed by `npm ci`. */
export const WRANGLER_BIN = join(ROOT, 'node_modules', '.bin', 'wrangler');
/** Debian's Chromium, which decodes H.264 and AAC (CHROMIUM_PATH overrides it). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function isFile(path) {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Returns the first executable named `name` on PATH, or null. */
export function findOnPath(name) {
  for (const folder of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(folder, name);
    if (folder && isFile(candidate)) {
      return candidate;
    }
  }
  return null;
}

/** Returns the `vylux` binary: VYLUX_BIN, else a debug build under CARGO_TARGET_DIR or target/. */
export function findVylux() {
  if (process.env.VYLUX_BIN) {
    return process.env.VYLUX_BIN;
  }
  const targetDir = process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
  const candidate = join(targetDir, 'debug', 'vylux');
  return isFile(candidate) ? candidate : null;
}

/** Returns the `s3s-fs` binary: S3S_FS, else PATH, else ~/.cargo/bin. */
export function findS3sFs() {
  if (process.env.S3S_FS) {
    return process.env.S3S_FS;
  }
  const cargoHome = process.env.CARGO_HOME ?? join(process.env.HOME ?? '/root', '.cargo');
  const inCargo = join(cargoHome, 'bin', 's3s-fs');
  return findOnPath('s3s-fs') ?? (isFile(inCargo) ? inCargo : null);
}

/**
 * Returns why the whole stack cannot start here (a missing binary, build, package or fixture
 * folder), or null when everything is in place. Tests skip with this text as the notice.
 */
export function missingPrerequisite({ needsBrowser = true } = {}) {
  const vylux = findVylux();
  if (vylux === null || !isFile(vylux)) {
    return `vylux binary not found (${vylux ?? 'VYLUX_BIN unset'}); build it with cargo build -p vylux-origin and set VYLUX_BIN`;
  }
  if (findS3sFs() === null) {
    return 's3s-fs not found; install it with cargo install --locked s3s-fs@0.14.1 --features binary, or set S3S_FS';
  }
  if (!isFile(EDGE_ENTRY)) {
    return `${EDGE_ENTRY} not found; build the edge worker with bash edge/build.sh`;
  }
  if (!isFile(WRANGLER_BIN) || !isFile(HLS_JS_PATH)) {
    return 'wrangler or hls.js is missing from node_modules; run npm ci';
  }
  if (needsBrowser && !isFile(CHROMIUM_PATH)) {
    return `${CHROMIUM_PATH} not found; install Debian's chromium package (apt-get install chromium)`;
  }
  if (!existsSync(FIXTURES_DIR)) {
    return `fixture folder ${FIXTURES_DIR} not found; set VYLUX_FIXTURES`;
  }
  return null;
}

/** Creates a fresh temporary folder whose name starts with `vylux-e2e-{label}-`. */
export function makeTempDir(label) {
  return mkdtempSync(join(tmpdir(), `vylux-e2e-${label}-`));
}

/** Returns a port on 127.0.0.1 that nothing listened on a moment ago. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolvePromise);
  });
  const { port } = server.address();
  await new Promise((resolvePromise) => server.close(resolvePromise));
  return port;
}

/**
 * Calls `check` every `intervalMs` until it returns a value other than undefined, false or null,
 * and returns that value. Throws `describe()`'s text after `timeoutMs`.
 */
export async function waitFor(check, { timeoutMs, intervalMs = 250, describe }) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false && value !== null) {
        return value;
      }
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  const cause = lastError ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${describe()}${cause}`);
}
