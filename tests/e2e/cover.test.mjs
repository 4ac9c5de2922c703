// video:cover end to end: real fixtures in S3 (s3s-fs), `vylux serve` on S3 storage, the edge
// under `wrangler dev`. Covers are requested through the job API, announced by a signed webhook
// and fetched through the edge with a signed /thumb URL.
//
// Run: node --test --test-concurrency=1 tests/e2e/ (see tests/e2e/README.md for prerequisites).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { missingPrerequisite, waitFor } from './support/env.mjs';
import { FIXTURES, fixturePath, jpegSize, uniqueHash, videoFolder } from './support/media.mjs';
import { startStack } from './support/stack.mjs';
import { WebhookReceiver } from './support/webhooks.mjs';

const JOB_TIMEOUT_MS = 120_000;
const WEBHOOK_TIMEOUT_MS = 20_000;

const missing = missingPrerequisite({ needsBrowser: false });
if (missing) {
  console.log(`notice: skipping the cover end-to-end tests: ${missing}`);
}

describe('video:cover through the edge', { skip: missing ?? false }, () => {
  let stack;
  let receiver;
  // One entry per fixture: { name, fixture, hash, sourceKey, jobId }.
  const covers = [];

  before(async () => {
    stack = await startStack({ demoApp: false });
    receiver = await WebhookReceiver.start(stack.secrets.WEBHOOK_SECRET);

    for (const [name, fixture] of Object.entries(FIXTURES)) {
      const path = fixturePath(fixture);
      assert.ok(path, `fixture ${fixture.file} is missing from the fixture folder`);
      const hash = uniqueHash(`cover-${name}`);
      const sourceKey = `uploads/${hash}.${fixture.extension}`;
      stack.upload(path, sourceKey);

      const { status, body } = await stack.api('POST', '/api/video/jobs', {
        source: { hash, key: sourceKey },
        pipeline: { cover: { enabled: true } },
        delivery: { callback_url: receiver.url },
      });
      assert.equal(status, 202, `creating the cover job of ${fixture.file} returned ${status}: ${JSON.stringify(body)}`);
      covers.push({ name, fixture, hash, sourceKey, jobId: body.job_id });
    }
  });

  after(async () => {
    await receiver?.close();
    await stack?.stop();
  });

  test('cover jobs complete', async () => {
    for (const cover of covers) {
      const job = await stack.waitForJob(cover.jobId, JOB_TIMEOUT_MS);
      assert.equal(job.status, 'completed', `cover job of ${cover.fixture.file} ended ${job.status}: ${job.error}`);
      assert.equal(job.type, 'video:cover');
      assert.equal(job.results?.key, `${videoFolder(cover.hash)}/cover.jpg`);
      assert.equal(job.results?.format, 'jpg');
      cover.results = job.results;
    }
  });

  test('webhooks arrive with valid signatures', async () => {
    for (const cover of covers) {
      const deliveries = await waitFor(() => receiver.deliveriesFor(cover.jobId).length > 0 && receiver.deliveriesFor(cover.jobId), {
        timeoutMs: WEBHOOK_TIMEOUT_MS,
        describe: () => `the webhook of job ${cover.jobId}`,
      });
      assert.equal(deliveries.length, 1, `job ${cover.jobId} got ${deliveries.length} webhooks`);
      const [delivery] = deliveries;
      assert.ok(delivery.signatureValid, `webhook of ${cover.jobId} has an invalid X-Signature`);
      assert.equal(delivery.headers['content-type'], 'application/json');
      assert.equal(delivery.payload.type, 'video:cover');
      assert.equal(delivery.payload.hash, cover.hash);
      assert.equal(delivery.payload.status, 'completed');
      assert.equal(delivery.payload.results?.key, `${videoFolder(cover.hash)}/cover.jpg`);
    }
  });

  test('edge serves covers as upright JPEGs', async () => {
    for (const cover of covers) {
      assert.ok(cover.results, `cover job of ${cover.fixture.file} has no results`);
      const url = stack.signThumb(cover.results.key);
      assert.ok(url.startsWith(`${stack.edgeUrl}/thumb/`), `signed URL ${url} is not on the edge`);

      const response = await fetch(url);
      const bytes = Buffer.from(await response.arrayBuffer());
      assert.equal(response.status, 200, `GET ${url} returned ${response.status}: ${bytes.subarray(0, 200)}`);
      assert.equal(response.headers.get('content-type'), 'image/jpeg');
      assert.equal(bytes.length, cover.results.size, 'served size differs from the job result');
      assert.deepEqual(jpegSize(bytes), cover.fixture.display, `cover of ${cover.fixture.file} has the wrong size`);
    }
  });

  test('edge rejects a tampered thumb signature', async () => {
    const [cover] = covers;
    assert.ok(cover.results, 'the first cover job has no results');
    const url = new URL(stack.signThumb(cover.results.key));
    const parts = url.pathname.split('/');
    // parts: ['', 'thumb', signature, escaped key]
    const signature = parts[2];
    parts[2] = (signature[0] === '0' ? '1' : '0') + signature.slice(1);
    url.pathname = parts.join('/');

    const forwardedBefore = stack.originRequestLog().filter((entry) => entry.path.startsWith('/thumb/')).length;
    const response = await fetch(url);
    await response.arrayBuffer();
    assert.equal(response.status, 403);
    const forwardedAfter = stack.originRequestLog().filter((entry) => entry.path.startsWith('/thumb/')).length;
    assert.equal(forwardedAfter, forwardedBefore, 'the edge forwarded a request with a bad signature to the origin');
  });
});
