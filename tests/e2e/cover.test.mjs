// video:cover end to end: real fixtures in S3 (s3s-fs), `vylux serve` on S3 storage, the edge
// under `wrangler dev`. Covers are requested through the job API, announced by a signed webhook
// and fetched through the edge with a signed /thumb URL.
//
// Run: node --test --test-concurrency=1 tests/e2e/ (see tests/e2e/README.md for prerequisites).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { findOnPath, missingPrerequisite, waitFor } from './support/env.mjs';
import {
  FIXTURES,
  correlation,
  fixturePath,
  jpegSize,
  meanAbsoluteDifference,
  referenceThumbnail,
  rotated180,
  uniqueHash,
  videoFolder,
} from './support/media.mjs';
import { startStack } from './support/stack.mjs';
import { WebhookReceiver } from './support/webhooks.mjs';

const JOB_TIMEOUT_MS = 120_000;
const WEBHOOK_TIMEOUT_MS = 20_000;
// Time of the frame a cover shows when the job names none, in seconds.
const DEFAULT_COVER_TIME_SEC = 1;
// Smallest correlation of a cover with the upright source frame, both as 32x18 luma thumbnails.
const MIN_UPRIGHT_CORRELATION = 0.95;
// How much better the cover must match the upright frame than the frame turned by 180°.
const MIN_ORIENTATION_MARGIN = 0.1;
// Largest mean luma difference (0 to 255) from the source frame. A correct JPEG of these fixtures
// differs by less than 0.5, and video-range levels (16 to 235) stored as full range by 8 to 20.
const MAX_LEVEL_DIFFERENCE = 4;

const missing = missingPrerequisite({ needsBrowser: false });
if (missing) {
  console.log(`notice: skipping the cover end-to-end tests: ${missing}`);
}

describe('video:cover through the edge', { skip: missing ?? false }, () => {
  let stack;
  let receiver;
  // One entry per fixture; `before` adds hash, sourceKey and jobId, and the tests add what they find.
  const covers = Object.entries(FIXTURES).map(([name, fixture]) => ({ name, fixture }));

  before(async () => {
    stack = await startStack({ demoApp: false });
    receiver = await WebhookReceiver.start(stack.secrets.WEBHOOK_SECRET);

    for (const cover of covers) {
      const path = fixturePath(cover.fixture);
      assert.ok(path, `fixture ${cover.fixture.file} is missing from the fixture folder`);
      cover.hash = uniqueHash(`cover-${cover.name}`);
      cover.sourceKey = `uploads/${cover.hash}.${cover.fixture.extension}`;
      stack.upload(path, cover.sourceKey);

      const { status, body } = await stack.api('POST', '/api/video/jobs', {
        source: { hash: cover.hash, key: cover.sourceKey },
        pipeline: { cover: { enabled: true } },
        delivery: { callback_url: receiver.url },
      });
      assert.equal(status, 202, `creating the cover job of ${cover.fixture.file} returned ${status}: ${JSON.stringify(body)}`);
      cover.jobId = body.job_id;
    }
  });

  after(async () => {
    await receiver?.close();
    await stack?.stop();
  });

  for (const cover of covers) {
    test(`${cover.name}: cover job completes`, async () => {
      const job = await stack.waitForJob(cover.jobId, JOB_TIMEOUT_MS);
      assert.equal(job.status, 'completed', `cover job of ${cover.fixture.file} ended ${job.status}: ${job.error}`);
      assert.equal(job.type, 'video:cover');
      assert.equal(job.results?.key, `${videoFolder(cover.hash)}/cover.jpg`);
      assert.equal(job.results?.format, 'jpg');
      cover.results = job.results;
    });
  }

  for (const cover of covers) {
    test(`${cover.name}: webhook has a valid signature`, async () => {
      assert.ok(cover.jobId, `no cover job was created for ${cover.fixture.file}`);
      await waitFor(() => receiver.deliveriesFor(cover.jobId).length > 0, {
        timeoutMs: WEBHOOK_TIMEOUT_MS,
        describe: () => `the webhook of job ${cover.jobId}`,
      });
      const deliveries = receiver.deliveriesFor(cover.jobId);
      assert.equal(deliveries.length, 1, `job ${cover.jobId} got ${deliveries.length} webhooks`);
      const [delivery] = deliveries;
      assert.ok(delivery.signatureValid, `webhook of ${cover.jobId} has an invalid X-Signature`);
      assert.equal(delivery.headers['content-type'], 'application/json');
      assert.equal(delivery.payload.type, 'video:cover');
      assert.equal(delivery.payload.hash, cover.hash);
      assert.equal(delivery.payload.status, 'completed');
      assert.equal(delivery.payload.results?.key, `${videoFolder(cover.hash)}/cover.jpg`);
    });
  }

  for (const cover of covers) {
    test(`${cover.name}: edge serves the cover as JPEG`, async () => {
      assert.ok(cover.results, `cover job of ${cover.fixture.file} has no results`);
      const url = stack.signThumb(cover.results.key);
      assert.ok(url.startsWith(`${stack.edgeUrl}/thumb/`), `signed URL ${url} is not on the edge`);

      const response = await fetch(url);
      const bytes = Buffer.from(await response.arrayBuffer());
      assert.equal(response.status, 200, `GET ${url} returned ${response.status}: ${bytes.subarray(0, 200)}`);
      assert.equal(response.headers.get('content-type'), 'image/jpeg');
      assert.equal(bytes.length, cover.results.size, 'served size differs from the job result');
      assert.deepEqual(jpegSize(bytes), cover.fixture.display, `cover of ${cover.fixture.file} has the wrong size`);
      cover.path = join(stack.dir, `${cover.hash}-cover.jpg`);
      writeFileSync(cover.path, bytes);
    });
  }

  for (const cover of covers) {
    test(`${cover.name}: cover matches the upright frame`, { skip: findOnPath('ffmpeg') ? false : 'ffmpeg not found' }, () => {
      assert.ok(cover.path, `the cover of ${cover.fixture.file} was not downloaded`);
      const served = referenceThumbnail(cover.path);
      const upright = referenceThumbnail(fixturePath(cover.fixture), DEFAULT_COVER_TIME_SEC);
      const uprightMatch = correlation(served, upright);
      const turnedMatch = correlation(served, rotated180(upright));
      const levelDifference = meanAbsoluteDifference(served, upright);
      const measured = `correlation ${uprightMatch.toFixed(3)} upright, ${turnedMatch.toFixed(3)} turned by 180°, level difference ${levelDifference.toFixed(1)}`;

      assert.ok(uprightMatch >= MIN_UPRIGHT_CORRELATION, `cover of ${cover.fixture.file} does not show the source frame: ${measured}`);
      assert.ok(uprightMatch - turnedMatch >= MIN_ORIENTATION_MARGIN, `cover of ${cover.fixture.file} is not upright: ${measured}`);
      assert.ok(levelDifference <= MAX_LEVEL_DIFFERENCE, `cover of ${cover.fixture.file} has shifted levels: ${measured}`);
    });
  }

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
