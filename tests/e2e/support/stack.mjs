// Starts the whole system on 127.0.0.1 for one test file: s3s-fs (a real S3 server), `vylux serve`
// on S3 storage, the edge worker under `wrangler dev`, and `vylux demo-app`.
//
// Every run gets fresh secrets from `vylux keygen`, fresh S3 credentials, a fresh data folder and a
// fresh wrangler cache, so nothing carries over between runs or between test files.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';

import {
  EDGE_ENTRY,
  HLS_JS_PATH,
  ROOT,
  WRANGLER_BIN,
  findS3sFs,
  findVylux,
  freePort,
  makeTempDir,
  waitFor,
} from './env.mjs';
import { startService, stopAll } from './processes.mjs';

// Startup limits in milliseconds. wrangler dev bundles the worker before it listens.
const S3_START_MS = 20_000;
const ORIGIN_START_MS = 60_000;
const EDGE_START_MS = 120_000;
const DEMO_START_MS = 30_000;

/** Bucket names on the S3 server. */
export const SOURCE_BUCKET = 'source';
export const MEDIA_BUCKET = 'media';

/** Parses `NAME=value` lines, as printed by `vylux keygen`. */
function parseEnvLines(text) {
  const values = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) {
      values[match[1]] = match[2];
    }
  }
  return values;
}

function tcpAccepts(port) {
  return new Promise((resolvePromise) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once('error', () => resolvePromise(false));
  });
}

async function httpStatus(url) {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  await response.arrayBuffer();
  return response.status;
}

/** Waits until `url` returns 200, failing early with the log's tail when the service exits. */
async function waitUntilServing(service, url, timeoutMs) {
  await waitFor(
    async () => {
      if (!service.running) {
        throw new Error(`${service.name} exited with ${JSON.stringify(service.exitStatus)}`);
      }
      return (await httpStatus(url)) === 200;
    },
    { timeoutMs, intervalMs: 300, describe: () => `${service.name} to answer 200 on ${url}; log:\n${tailOf(service.logPath)}` },
  ).catch((error) => {
    throw new Error(`${service.name} did not start: ${error.message}`);
  });
}

function tailOf(path, lines = 40) {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A running stack; `startStack()` builds it. */
export class Stack {
  constructor() {
    this.dir = makeTempDir('stack');
    this.logDir = join(this.dir, 'logs');
    mkdirSync(this.logDir);
    this.vylux = findVylux();
    this.secrets = parseEnvLines(execFileSync(this.vylux, ['keygen'], { encoding: 'utf8', env: {} }));
    this.s3 = {
      accessKey: `e2e-${randomBytes(6).toString('hex')}`,
      secretKey: randomBytes(20).toString('hex'),
      root: join(this.dir, 's3'),
    };
  }

  /** Every secret a browser must never see, by name. */
  get secretValues() {
    return {
      HMAC_SECRET: this.secrets.HMAC_SECRET,
      KEY_TOKEN_SECRET: this.secrets.KEY_TOKEN_SECRET,
      API_KEY: this.secrets.API_KEY,
      WEBHOOK_SECRET: this.secrets.WEBHOOK_SECRET,
      ENCRYPTION_KEY: this.secrets.ENCRYPTION_KEY,
      S3_SECRET_KEY: this.s3.secretKey,
    };
  }

  async startS3() {
    // s3s-fs keeps each bucket as a folder under its root, so a folder is a bucket.
    mkdirSync(join(this.s3.root, SOURCE_BUCKET), { recursive: true });
    mkdirSync(join(this.s3.root, MEDIA_BUCKET), { recursive: true });
    this.s3.port = await freePort();
    this.s3.endpoint = `http://127.0.0.1:${this.s3.port}`;
    this.s3Service = startService({
      name: 's3s-fs',
      command: findS3sFs(),
      args: ['--host', '127.0.0.1', '--port', String(this.s3.port), '--access-key', this.s3.accessKey, '--secret-key', this.s3.secretKey, this.s3.root],
      logPath: join(this.logDir, 's3s-fs.log'),
    });
    await waitFor(
      async () => {
        if (!this.s3Service.running) {
          throw new Error(`s3s-fs exited; log:\n${tailOf(this.s3Service.logPath)}`);
        }
        return tcpAccepts(this.s3.port);
      },
      { timeoutMs: S3_START_MS, describe: () => `s3s-fs on port ${this.s3.port}` },
    );
  }

  async startOrigin() {
    this.originPort = await freePort();
    this.originUrl = `http://127.0.0.1:${this.originPort}`;
    const bucketEnv = (prefix, bucket) => ({
      [`${prefix}_S3_ENDPOINT`]: this.s3.endpoint,
      [`${prefix}_S3_ACCESS_KEY`]: this.s3.accessKey,
      [`${prefix}_S3_SECRET_KEY`]: this.s3.secretKey,
      [`${prefix}_BUCKET`]: bucket,
    });
    this.originLogPath = join(this.logDir, 'origin.log');
    this.origin = startService({
      name: 'vylux serve',
      command: this.vylux,
      args: ['serve'],
      env: {
        ...this.secrets,
        ...bucketEnv('SOURCE', SOURCE_BUCKET),
        ...bucketEnv('MEDIA', MEDIA_BUCKET),
        HOST: '127.0.0.1',
        PORT: String(this.originPort),
        DATA_DIR: join(this.dir, 'data'),
        WORKER_CONCURRENCY: process.env.WORKER_CONCURRENCY ?? '2',
        LOG_LEVEL: 'info',
      },
      logPath: this.originLogPath,
    });
    await waitUntilServing(this.origin, `${this.originUrl}/readyz`, ORIGIN_START_MS);
  }

  async startEdge() {
    // A configuration of its own, without the repository's [build] step, so that wrangler serves
    // the worker the caller built instead of building it. Its .dev.vars contains this run's secrets.
    const edgeDir = join(this.dir, 'edge');
    mkdirSync(edgeDir);
    this.edgePort = await freePort();
    this.edgeUrl = `http://127.0.0.1:${this.edgePort}`;
    const config = [
      'name = "vylux-edge-e2e"',
      `main = ${JSON.stringify(EDGE_ENTRY)}`,
      `compatibility_date = ${JSON.stringify(readCompatibilityDate())}`,
      '',
    ].join('\n');
    writeFileSync(join(edgeDir, 'wrangler.toml'), config);
    writeFileSync(
      join(edgeDir, '.dev.vars'),
      `HMAC_SECRET=${this.secrets.HMAC_SECRET}\nKEY_TOKEN_SECRET=${this.secrets.KEY_TOKEN_SECRET}\n`,
      { mode: 0o600 },
    );
    this.edge = startService({
      name: 'wrangler dev',
      command: WRANGLER_BIN,
      args: [
        'dev',
        '--config', join(edgeDir, 'wrangler.toml'),
        '--ip', '127.0.0.1',
        '--port', String(this.edgePort),
        '--persist-to', join(edgeDir, 'state'),
        '--var', `ORIGIN_URL:${this.originUrl}`,
        '--show-interactive-dev-session=false',
      ],
      cwd: edgeDir,
      env: {
        WRANGLER_SEND_METRICS: 'false',
        WRANGLER_SEND_ERROR_REPORTS: 'false',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        XDG_CONFIG_HOME: join(edgeDir, 'config'),
        CI: 'true',
      },
      logPath: join(this.logDir, 'edge.log'),
    });
    await waitUntilServing(this.edge, `${this.edgeUrl}/healthz`, EDGE_START_MS);
  }

  async startDemoApp() {
    this.demoPort = await freePort();
    this.demoUrl = `http://127.0.0.1:${this.demoPort}`;
    this.demo = startService({
      name: 'vylux demo-app',
      command: this.vylux,
      args: ['demo-app'],
      env: {
        DEMO_ADDRESS: `127.0.0.1:${this.demoPort}`,
        VYLUX_API_URL: this.originUrl,
        PUBLIC_MEDIA_URL: this.edgeUrl,
        DEMO_PUBLIC_URL: this.demoUrl,
        HLS_JS_PATH,
        API_KEY: this.secrets.API_KEY,
        HMAC_SECRET: this.secrets.HMAC_SECRET,
        KEY_TOKEN_SECRET: this.secrets.KEY_TOKEN_SECRET,
        WEBHOOK_SECRET: this.secrets.WEBHOOK_SECRET,
      },
      logPath: join(this.logDir, 'demo-app.log'),
    });
    await waitUntilServing(this.demo, `${this.demoUrl}/`, DEMO_START_MS);
  }

  /** Puts a local file into the source bucket under `key`, as s3s-fs stores it. */
  upload(localPath, key) {
    const target = join(this.s3.root, SOURCE_BUCKET, key);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(localPath, target);
  }

  /** Sends a job API request to the origin with the API key. */
  async api(method, path, body) {
    const response = await fetch(`${this.originUrl}${path}`, {
      method,
      headers: { 'X-API-Key': this.secrets.API_KEY, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  }

  /** Polls `GET /api/jobs/{id}` until the job is completed or failed, and returns it. */
  async waitForJob(jobId, timeoutMs) {
    return waitFor(
      async () => {
        const { status, body } = await this.api('GET', `/api/jobs/${jobId}`);
        return status === 200 && ['completed', 'failed'].includes(body.status) ? body : null;
      },
      { timeoutMs, intervalMs: 500, describe: () => `job ${jobId} to finish; origin log:\n${tailOf(this.originLogPath)}` },
    );
  }

  /** Asks the demo app to submit a `video:full` job, as the example backend does. */
  async submitVideo({ hash, sourceKey, title }) {
    const response = await fetch(`${this.demoUrl}/videos`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ hash, source_key: sourceKey, title }),
    });
    return { status: response.status, body: await response.json() };
  }

  /** Returns the demo app's record of a video (`GET /videos/{hash}`). */
  async videoStatus(hash) {
    const response = await fetch(`${this.demoUrl}/videos/${encodeURIComponent(hash)}`);
    return response.json();
  }

  /**
   * Waits until the demo app reports the video completed or failed, and until a completed
   * video's signed webhook has arrived (or `webhookGraceMs` has passed, since the app may learn
   * of completion by polling first). Returns the last status.
   */
  async waitForVideo(hash, timeoutMs, webhookGraceMs = 15_000) {
    const finished = await waitFor(
      async () => {
        const video = await this.videoStatus(hash);
        return ['completed', 'failed'].includes(video.status) ? video : null;
      },
      { timeoutMs, intervalMs: 500, describe: () => `video ${hash} to finish; origin log:\n${tailOf(this.originLogPath)}` },
    );
    if (finished.status !== 'completed' || finished.webhook_received) {
      return finished;
    }
    return waitFor(
      async () => {
        const video = await this.videoStatus(hash);
        return video.webhook_received ? video : null;
      },
      { timeoutMs: webhookGraceMs, intervalMs: 300, describe: () => `the webhook of ${hash}` },
    ).catch(() => this.videoStatus(hash));
  }

  /** Returns a signed `/thumb` URL on the edge for a media-bucket key, made by `vylux sign`. */
  signThumb(key) {
    return execFileSync(this.vylux, ['sign', 'thumb', key, '--base-url', this.edgeUrl], {
      encoding: 'utf8',
      env: { HMAC_SECRET: this.secrets.HMAC_SECRET },
    }).trim();
  }

  /** Returns the origin's JSON log lines that describe HTTP requests. */
  originRequestLog() {
    return readFileSync(this.originLogPath, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => {
        try {
          return JSON.parse(line);
        } catch {
          return null;
        }
      })
      .filter((entry) => entry !== null && entry.message === 'request');
  }

  /** Returns the last lines of every service's log, for failure messages. */
  logTails(lines = 20) {
    return ['s3s-fs.log', 'origin.log', 'edge.log', 'demo-app.log']
      .map((name) => `--- ${name}\n${tailOf(join(this.logDir, name), lines)}`)
      .join('\n');
  }

  /**
   * Stops every service and deletes the run's folder (data, buckets, logs) unless
   * VYLUX_E2E_KEEP_TEMP=1, which keeps it for debugging and prints where it is.
   */
  async stop() {
    await stopAll();
    if (process.env.VYLUX_E2E_KEEP_TEMP === '1') {
      console.log(`notice: kept the end-to-end run's files in ${this.dir}`);
    } else {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

function readCompatibilityDate() {
  const text = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  const match = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(text);
  if (!match) {
    throw new Error('compatibility_date not found in wrangler.toml');
  }
  return match[1];
}

/**
 * Starts s3s-fs, the origin, the edge and (unless `demoApp` is false) the demo app. On a failure
 * it stops what it started and throws.
 */
export async function startStack({ demoApp = true } = {}) {
  const stack = new Stack();
  try {
    await stack.startS3();
    await stack.startOrigin();
    await stack.startEdge();
    if (demoApp) {
      await stack.startDemoApp();
    }
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return stack;
}
