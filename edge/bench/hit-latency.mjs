// Measures the edge worker's size and the latency of a cached hit, compared in the same run with
// a JavaScript worker that only caches, a worker that only proxies, and the origin itself.
//
// Usage: node edge/bench/hit-latency.mjs [requests per target, default 400]
// Needs the same tools as the edge tests (edge/setup.sh, a built `vylux`), and builds the worker
// with edge/build.sh first. Everything runs on 127.0.0.1, so the numbers show the worker's own
// cost, not network distance.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import { randomSegment } from '../../tests/edge/support/fixtures.mjs';
import {
  ROOT,
  buildWorker,
  edgeVars,
  missingTool,
  startEdge,
  startOrigin,
} from '../../tests/edge/support/harness.mjs';

const REQUESTS = Number(process.argv[2] ?? 400);
const WARMUP_REQUESTS = 50;
const SEGMENT_BYTES = 64 * 1024;
const SEGMENT_PATH = '/stream/benchmark01/video/r720/seg_1.m4s';

function percentile(sorted, fraction) {
  const index = Math.min(sorted.length - 1, Math.floor(fraction * sorted.length));
  return sorted[index];
}

/** Sends `count` sequential GETs and returns the sorted latencies in milliseconds. */
async function measure(url, count, expectedCache) {
  const latencies = [];
  for (let i = 0; i < count; i += 1) {
    const started = process.hrtime.bigint();
    const response = await fetch(url);
    const body = await response.arrayBuffer();
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
    if (response.status !== 200 || body.byteLength !== SEGMENT_BYTES) {
      throw new Error(`${url} returned status ${response.status} with ${body.byteLength} bytes`);
    }
    if (expectedCache && response.headers.get('x-vylux-cache') !== expectedCache) {
      throw new Error(`${url} was not a cache ${expectedCache}`);
    }
    latencies.push(elapsed);
  }
  return latencies.sort((a, b) => a - b);
}

function row(name, latencies) {
  const format = (value) => value.toFixed(2).padStart(8);
  const percentiles = [0.5, 0.9, 0.99].map((fraction) => format(percentile(latencies, fraction)));
  return `${name.padEnd(28)}${percentiles.join('')}`;
}

async function workerSizes() {
  const lines = [];
  for (const file of ['index_bg.wasm', 'index.js']) {
    const bytes = await readFile(join(ROOT, 'edge/build', file));
    lines.push(`${file.padEnd(16)}${String(bytes.length).padStart(10)} bytes raw${String(gzipSync(bytes, { level: 9 }).length).padStart(10)} bytes gzip -9`);
  }
  return lines;
}

async function main() {
  const missing = missingTool();
  if (missing) {
    console.log(`SKIP benchmark: ${missing}`);
    return;
  }
  await buildWorker();
  console.log('worker size (edge/build/):');
  for (const line of await workerSizes()) {
    console.log(`  ${line}`);
  }

  const origin = await startOrigin();
  const workers = [];
  try {
    await origin.putMedia('videos/be/benchmark01/video/r720/seg_1.m4s', randomSegment(SEGMENT_BYTES));
    const edge = await startEdge({ vars: edgeVars(origin.url) });
    workers.push(edge);
    const cacheOnly = await startEdge({ vars: { ORIGIN_URL: origin.url }, main: join(ROOT, 'edge/bench/cache-worker.js') });
    workers.push(cacheOnly);
    const proxy = await startEdge({ vars: { ORIGIN_URL: origin.url }, main: join(ROOT, 'edge/bench/proxy-worker.js') });
    workers.push(proxy);

    const targets = [
      ['edge, cached hit', `${edge.url}${SEGMENT_PATH}`, 'HIT'],
      ['JS cache worker, hit', `${cacheOnly.url}${SEGMENT_PATH}`, 'HIT'],
      ['proxy-only worker', `${proxy.url}${SEGMENT_PATH}`, null],
      ['origin direct', `${origin.url}${SEGMENT_PATH}`, null],
    ];
    // The first request to each caching worker fills its cache; the warm-up also lets workerd
    // compile the modules.
    for (const [, url, expected] of targets) {
      if (expected) {
        await fetch(url).then((response) => response.arrayBuffer());
      }
    }
    for (const [, url] of targets) {
      await measure(url, WARMUP_REQUESTS, null);
    }

    // Rounds alternate between targets so that load from other processes hits all of them alike.
    const results = new Map(targets.map(([name]) => [name, []]));
    const rounds = 4;
    for (let round = 0; round < rounds; round += 1) {
      for (const [name, url, expected] of targets) {
        results.get(name).push(...(await measure(url, Math.ceil(REQUESTS / rounds), expected)));
      }
    }

    console.log(`\nlatency of GET ${SEGMENT_BYTES / 1024} KiB segment, ${REQUESTS} sequential requests per target (ms):`);
    console.log(`${''.padEnd(28)}${'p50'.padStart(8)}${'p90'.padStart(8)}${'p99'.padStart(8)}`);
    for (const [name, latencies] of results) {
      console.log(row(name, latencies.sort((a, b) => a - b)));
    }
  } finally {
    for (const worker of workers) {
      await worker.stop();
    }
    await origin.stop();
  }
}

await main();
