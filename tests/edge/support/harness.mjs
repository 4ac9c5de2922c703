// Starts the real components for the edge tests: `vylux serve` (the origin) and the edge worker
// under `wrangler dev`, both on 127.0.0.1 with free ports and temporary data.

import { spawn, execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const WRANGLER = join(ROOT, 'node_modules/.bin/wrangler');
export const BUILT_WORKER = join(ROOT, 'edge/build/index.js');

const targetDir = process.env.CARGO_TARGET_DIR || join(ROOT, 'target');
export const VYLUX_BIN = process.env.VYLUX_BIN || join(targetDir, 'debug/vylux');

// Keeps wrangler from sending telemetry or fetching anything from Cloudflare.
export const WRANGLER_ENV = {
  WRANGLER_SEND_METRICS: 'false',
  WRANGLER_SEND_ERROR_REPORTS: 'false',
  CLOUDFLARE_CF_FETCH_ENABLED: 'false',
};

/** Test secrets, random per run and long enough for both sides' checks. */
export const SECRETS = {
  HMAC_SECRET: randomBytes(32).toString('hex'),
  API_KEY: randomBytes(32).toString('hex'),
  WEBHOOK_SECRET: randomBytes(32).toString('hex'),
  KEY_TOKEN_SECRET: randomBytes(16).toString('hex'),
  ENCRYPTION_KEY: randomBytes(32).toString('hex'),
};

const STARTUP_TIMEOUT_MS = 60_000;

// A first release build of the worker on 2 cores takes several minutes.
const BUILD_TIMEOUT_MS = 20 * 60_000;

/** Returns why the edge tests cannot run here, or null when every tool is present. */
export function missingTool() {
  if (!existsSync(WRANGLER)) {
    return `wrangler is not installed (${WRANGLER}); run edge/setup.sh or npm ci`;
  }
  if (!existsSync(VYLUX_BIN)) {
    return `the origin binary ${VYLUX_BIN} is missing; run cargo build -p vylux-origin or set VYLUX_BIN`;
  }
  return null;
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function sleep(ms) {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/** Polls `url` until any HTTP response arrives, failing when `child` exits or time runs out. */
async function waitForHttp(url, child, output, timeoutMs = STARTUP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`process exited with status ${child.exitCode} before ${url} answered:\n${output()}`);
    }
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${output()}`);
}

/** Spawns a command in its own process group so that stopping it also stops its children. */
function spawnGroup(command, args, options) {
  const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    text += chunk;
  });
  child.stderr.on('data', (chunk) => {
    text += chunk;
  });
  const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
  return { child, output: () => text, exited };
}

async function stopGroup(child, exited) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const stopped = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
  if (!stopped) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Runs a `vylux` subcommand (sign, token) with the test secrets and returns its trimmed output. */
export async function vylux(...args) {
  const { stdout } = await execFileAsync(VYLUX_BIN, args, { env: { ...process.env, ...SECRETS } });
  return stdout.trim();
}

/**
 * Starts `vylux serve` on `port` (a free one by default) with a temporary DATA_DIR. Objects for
 * the tests go under `origin.mediaDir` and `origin.sourceDir`.
 */
export async function startOrigin({ port } = {}) {
  const listenPort = port ?? (await freePort());
  const dataDir = await mkdtemp(join(tmpdir(), 'vylux-edge-origin-'));
  const env = {
    ...process.env,
    ...SECRETS,
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: String(listenPort),
    WORKER_CONCURRENCY: '1',
    LOG_LEVEL: 'info',
  };
  const { child, output, exited } = spawnGroup(VYLUX_BIN, ['serve'], { env });
  const url = `http://127.0.0.1:${listenPort}`;
  await waitForHttp(`${url}/healthz`, child, output);

  const mediaDir = join(dataDir, 'media');
  const sourceDir = join(dataDir, 'source');
  return {
    url,
    port: listenPort,
    mediaDir,
    sourceDir,
    output,

    /** Writes an object into the media bucket folder. */
    async putMedia(key, bytes) {
      await writeObject(mediaDir, key, bytes);
    },

    /** Writes an object into the source bucket folder. */
    async putSource(key, bytes) {
      await writeObject(sourceDir, key, bytes);
    },

    /**
     * Returns the request log lines (method, path, status, authorization, range) written so far.
     * It first sends a marker request and waits for its line, so every request served before
     * the call is included.
     */
    async requests() {
      const marker = `/edge-test-marker/${randomUUID()}`;
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`vylux serve stopped (status ${child.exitCode ?? child.signalCode}):\n${output().slice(-4000)}`);
      }
      await fetch(`${url}${marker}`);
      const deadline = Date.now() + 15_000;
      while (!output().includes(marker)) {
        if (Date.now() > deadline) {
          throw new Error(`the origin log never showed ${marker}:\n${output().slice(-4000)}`);
        }
        await sleep(20);
      }
      return parseRequestLines(output()).filter((line) => !line.path.startsWith('/edge-test-marker/'));
    },

    async stop() {
      await stopGroup(child, exited);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function writeObject(bucketDir, key, bytes) {
  const path = join(bucketDir, key);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}

function parseRequestLines(text) {
  const lines = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) {
      continue;
    }
    try {
      const entry = JSON.parse(line);
      if (entry.message === 'request') {
        lines.push(entry);
      }
    } catch {
      // A partial line still being written.
    }
  }
  return lines;
}

/** Builds the worker with edge/build.sh once per test process. */
let buildOnce = null;
export function buildWorker() {
  buildOnce ??= execFileAsync('bash', [join(ROOT, 'edge/build.sh')], {
    cwd: ROOT,
    env: process.env,
    maxBuffer: 64 * 1024 * 1024,
  }).then(() => undefined);
  return buildOnce;
}

/**
 * Writes a copy of the root wrangler.toml without its build command, pointing at `main` (the
 * already built worker by default), so that extra edges start in seconds instead of rebuilding.
 */
async function prebuiltConfig(dir, main) {
  const rootConfig = await readFile(join(ROOT, 'wrangler.toml'), 'utf8');
  const keptLines = [];
  let inBuildTable = false;
  for (const line of rootConfig.split('\n')) {
    const table = line.match(/^\s*\[([^\]]+)\]/);
    if (table) {
      inBuildTable = table[1].trim() === 'build';
    }
    if (inBuildTable) {
      continue;
    }
    if (/^main\s*=/.test(line)) {
      keptLines.push(`main = ${JSON.stringify(main)}`);
    } else if (/^name\s*=/.test(line)) {
      // A name of its own keeps wrangler's local dev registry from mixing up parallel workers.
      keptLines.push(`name = "vylux-edge-test-${randomUUID().slice(0, 8)}"`);
    } else {
      keptLines.push(line);
    }
  }
  const path = join(dir, 'wrangler.toml');
  await writeFile(path, keptLines.join('\n'));
  return path;
}

/**
 * Starts the edge worker under `wrangler dev`.
 *
 * `vars` are written to a temporary env file (secrets and ORIGIN_URL), leaving out a variable set
 * to undefined. With `build: true` the root wrangler.toml is used, so wrangler runs the build
 * command itself. Otherwise the worker already in edge/build/ is reused, or the script `main`
 * runs in its place.
 */
export async function startEdge({ vars, build = false, main = BUILT_WORKER }) {
  const dir = await mkdtemp(join(tmpdir(), 'vylux-edge-'));
  const persistDir = join(dir, 'state');
  const envFile = join(dir, 'edge.env');
  const envText = Object.entries(vars)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}=${value}`)
    .join('\n');
  await writeFile(envFile, `${envText}\n`, { mode: 0o600 });

  const config = build ? join(ROOT, 'wrangler.toml') : await prebuiltConfig(dir, main);
  const port = await freePort();
  const inspectorPort = await freePort();
  const args = [
    'dev',
    '--config', config,
    '--ip', '127.0.0.1',
    '--port', String(port),
    '--inspector-port', String(inspectorPort),
    '--persist-to', persistDir,
    '--env-file', envFile,
    '--show-interactive-dev-session=false',
    '--log-level', 'log',
  ];
  const { child, output, exited } = spawnGroup(WRANGLER, args, {
    cwd: ROOT,
    env: { ...process.env, ...WRANGLER_ENV },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`, child, output, build ? BUILD_TIMEOUT_MS : STARTUP_TIMEOUT_MS);
  return {
    url,
    output,

    /** Waits until wrangler's output matches `pattern`; worker logs arrive after the response. */
    async waitForOutput(pattern, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(output())) {
        if (Date.now() > deadline) {
          throw new Error(`wrangler output never matched ${pattern}:\n${output()}`);
        }
        await sleep(50);
      }
    },

    async stop() {
      await stopGroup(child, exited);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Returns the `vars` for an edge in front of `originUrl` with the test secrets. */
export function edgeVars(originUrl, overrides = {}) {
  return {
    ORIGIN_URL: originUrl,
    HMAC_SECRET: SECRETS.HMAC_SECRET,
    KEY_TOKEN_SECRET: SECRETS.KEY_TOKEN_SECRET,
    ...overrides,
  };
}
