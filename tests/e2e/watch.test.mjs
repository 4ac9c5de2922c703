// The example backend's player page end to end. `vylux demo-app` submits encrypted video:full jobs
// to `vylux serve`, which stores them on s3s-fs. Headless Chromium plays the result through the
// edge under `wrangler dev`, and hls.js fetches the content key with a Bearer playback token.
//
// Run: node --test --test-concurrency=1 tests/e2e/ (see tests/e2e/README.md for prerequisites).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { RecordedBrowser } from './support/browser.mjs';
import { ARTIFACTS_DIR, findOnPath, missingPrerequisite } from './support/env.mjs';
import {
  FIXTURES,
  THUMBNAIL_SIZE,
  correlation,
  jpegSize,
  referenceThumbnail,
  repeatedFixture,
  rotated180,
  uniqueHash,
  videoFolder,
} from './support/media.mjs';
import { startStack } from './support/stack.mjs';

// Limits in milliseconds. A video:full job runs cover, preview and an encrypted HLS ladder.
const FULL_JOB_TIMEOUT_MS = 300_000;
const PAGE_TIMEOUT_MS = 30_000;
const PLAYBACK_TIMEOUT_MS = 90_000;
// Playback must pass this position: two 6 s segments and part of a third.
const PLAYED_PAST_SEC = 13;
// Smallest standard deviation of luma (0 to 255) that counts as a visible picture, not a flat fill.
const MIN_FRAME_LUMA_STDDEV = 8;
// Smallest correlation of the played frame with the upright source frame, as 32x18 luma thumbnails.
const MIN_UPRIGHT_CORRELATION = 0.9;
// How much better the played frame must match the upright frame than the frame turned by 180°.
const MIN_ORIENTATION_MARGIN = 0.1;

const missing = missingPrerequisite() ?? (findOnPath('ffmpeg') ? null : 'ffmpeg not found; install Debian\'s ffmpeg package');
if (missing) {
  console.log(`notice: skipping the player end-to-end tests: ${missing}`);
}

/** The videos the tests submit: each fixture repeated until it spans at least three segments. */
const VIDEOS = [
  { name: 'rotated', fixture: FIXTURES.rotatedPhone, repeat: 6, title: 'Rotated phone recording' },
  { name: 'landscape', fixture: FIXTURES.landscape, repeat: 4, title: 'Landscape clip' },
];

/** Measures the player's current frame: mean and standard deviation of luma over a 160x90 grid. */
function measureFrame() {
  const video = document.getElementById('player');
  const canvas = document.createElement('canvas');
  canvas.width = 160;
  canvas.height = 90;
  const context = canvas.getContext('2d');
  context.drawImage(video, 0, 0, canvas.width, canvas.height);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0;
  let sumOfSquares = 0;
  const count = pixels.length / 4;
  for (let index = 0; index < pixels.length; index += 4) {
    const luma = 0.299 * pixels[index] + 0.587 * pixels[index + 1] + 0.114 * pixels[index + 2];
    sum += luma;
    sumOfSquares += luma * luma;
  }
  const mean = sum / count;
  return { mean, stddev: Math.sqrt(Math.max(0, sumOfSquares / count - mean * mean)) };
}

/**
 * Pauses the player and returns its position and current frame as a `width` x `height` luma
 * thumbnail, each value the mean of a 5x5 block of canvas pixels.
 */
function pausedThumbnail({ width, height }) {
  const video = document.getElementById('player');
  video.pause();
  const block = 5;
  const canvas = document.createElement('canvas');
  canvas.width = width * block;
  canvas.height = height * block;
  const context = canvas.getContext('2d');
  context.drawImage(video, 0, 0, canvas.width, canvas.height);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  const thumbnail = new Array(width * height).fill(0);
  for (let y = 0; y < canvas.height; y += 1) {
    for (let x = 0; x < canvas.width; x += 1) {
      const index = (y * canvas.width + x) * 4;
      const luma = 0.299 * pixels[index] + 0.587 * pixels[index + 1] + 0.114 * pixels[index + 2];
      thumbnail[Math.floor(y / block) * width + Math.floor(x / block)] += luma / (block * block);
    }
  }
  return { timeSec: video.currentTime, thumbnail };
}

/** Reads the player's state: position, size, hls.js errors and key requests. */
function playerState() {
  const video = document.getElementById('player');
  return {
    currentTime: video.currentTime,
    duration: video.duration,
    paused: video.paused,
    videoWidth: video.videoWidth,
    videoHeight: video.videoHeight,
    mediaError: video.error ? { code: video.error.code, message: video.error.message } : null,
    errors: window.vyluxPlayer?.errors ?? [],
    keyRequests: window.vyluxPlayer?.keyRequests ?? 0,
    status: document.getElementById('status')?.textContent,
  };
}

describe('encrypted playback through the edge', { skip: missing ?? false }, () => {
  let stack;
  let browser;

  before(async () => {
    stack = await startStack();
    for (const video of VIDEOS) {
      const path = repeatedFixture(video.fixture, video.repeat, stack.dir);
      assert.ok(path, `fixture ${video.fixture.file} is missing from the fixture folder`);
      video.hash = uniqueHash(video.name);
      video.sourceKey = `uploads/${video.hash}.${video.fixture.extension}`;
      video.localPath = path;
      stack.upload(path, video.sourceKey);

      const { status, body } = await stack.submitVideo({ hash: video.hash, sourceKey: video.sourceKey, title: video.title });
      assert.equal(status, 202, `submitting ${video.name} returned ${status}: ${JSON.stringify(body)}`);
    }
    // The jobs run side by side; each test waits for the ones it needs.
    for (const video of VIDEOS) {
      video.finished = stack.waitForVideo(video.hash, FULL_JOB_TIMEOUT_MS).catch((error) => ({ status: 'unknown', error: error.message }));
    }
    browser = await RecordedBrowser.launch();
  });

  after(async () => {
    await browser?.close();
    await stack?.stop();
  });

  // Fails the calling test unless the video's job completed; `withLogs` adds the services' logs.
  async function requireCompleted(video, { withLogs = false } = {}) {
    const state = await video.finished;
    const logs = withLogs ? `\n${stack.logTails()}` : '';
    assert.equal(state.status, 'completed', `video:full of ${video.name} ended ${state.status}: ${state.error}${logs}`);
    return state;
  }

  for (const video of VIDEOS) {
    test(`${video.name}: job completes with webhook`, async () => {
      const state = await requireCompleted(video, { withLogs: true });
      assert.equal(state.encrypted, true);
      assert.equal(state.webhook_received, true, `the demo app got no valid webhook for ${video.name}`);
      assert.ok(state.webhook_count >= 1);
      assert.equal(state.cover_key, `${videoFolder(video.hash)}/cover.jpg`);
    });
  }

  for (const video of VIDEOS) {
    test(`${video.name}: watch page shows cover`, async () => {
      await requireCompleted(video);
      video.page = await browser.open(`${stack.demoUrl}/watch/${encodeURIComponent(video.hash)}`);
      // Both pages play at once, and each pauses itself just past the target. The paused frame is
      // then still inside the clip when the playback test compares it with the source.
      await video.page.evaluate((stopAfterSec) => {
        const player = document.getElementById('player');
        player.addEventListener('timeupdate', () => {
          if (player.currentTime > stopAfterSec) {
            player.pause();
          }
        });
      }, PLAYED_PAST_SEC + 0.5);
      const cover = video.page.locator('#cover');
      await video.page.waitForFunction(() => document.getElementById('cover').complete, null, { timeout: PAGE_TIMEOUT_MS });

      const source = await cover.getAttribute('src');
      assert.ok(source.startsWith(`${stack.edgeUrl}/thumb/`), `cover URL ${source} is not a /thumb URL on the edge`);
      const size = await cover.evaluate((image) => ({ width: image.naturalWidth, height: image.naturalHeight }));
      assert.deepEqual(size, video.fixture.display, `cover of ${video.name} shows at the wrong size`);

      await browser.settle();
      const response = browser.responses.find((entry) => entry.url === source);
      assert.ok(response, `the browser made no request for ${source}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], 'image/jpeg');
      assert.deepEqual(jpegSize(response.body), video.fixture.display);
    });
  }

  for (const video of VIDEOS) {
    test(`${video.name}: stream plays past two segments`, async () => {
      await requireCompleted(video);
      assert.ok(video.page, `no page is open for ${video.name}`);
      const page = video.page;
      await page
        .waitForFunction(
          (target) => {
            const player = document.getElementById('player');
            const fatal = (window.vyluxPlayer?.errors ?? []).some((error) => error.fatal);
            return player.currentTime > target || player.error !== null || fatal;
          },
          PLAYED_PAST_SEC,
          { timeout: PLAYBACK_TIMEOUT_MS, polling: 250 },
        )
        .catch(() => {});
      const state = await page.evaluate(playerState);
      const screenshot = join(ARTIFACTS_DIR, `playback-${video.name}.png`);
      await page.screenshot({ path: screenshot, fullPage: true });
      const described = JSON.stringify(state);

      assert.equal(state.mediaError, null, `video element error for ${video.name}: ${described}`);
      assert.deepEqual(state.errors, [], `hls.js reported errors for ${video.name}: ${described}`);
      assert.ok(state.currentTime > PLAYED_PAST_SEC, `${video.name} stopped at ${state.currentTime} s: ${described}`);
      assert.ok(state.keyRequests >= 1, `${video.name} played without a key request: ${described}`);
      // The rendition may be smaller than the source, but its shape is the upright display shape.
      const expectedRatio = video.fixture.display.width / video.fixture.display.height;
      assert.ok(
        Math.abs(state.videoWidth / state.videoHeight - expectedRatio) < 0.02,
        `${video.name} plays at ${state.videoWidth}x${state.videoHeight}, not the shape of ${JSON.stringify(video.fixture.display)}`,
      );
      const frame = await page.evaluate(measureFrame);
      assert.ok(frame.stddev >= MIN_FRAME_LUMA_STDDEV, `${video.name} shows a flat frame (${JSON.stringify(frame)}); see ${screenshot}`);

      // Compare the shown frame with the source frame at the same time, which ffmpeg turns upright.
      const { timeSec, thumbnail } = await page.evaluate(pausedThumbnail, THUMBNAIL_SIZE);
      const upright = referenceThumbnail(video.localPath, timeSec);
      const uprightMatch = correlation(thumbnail, upright);
      const turnedMatch = correlation(thumbnail, rotated180(upright));
      const measured = `at ${timeSec.toFixed(2)} s: correlation ${uprightMatch.toFixed(3)} upright, ${turnedMatch.toFixed(3)} turned by 180°`;
      assert.ok(uprightMatch >= MIN_UPRIGHT_CORRELATION, `${video.name} does not show the source frame ${measured}; see ${screenshot}`);
      assert.ok(uprightMatch - turnedMatch >= MIN_ORIENTATION_MARGIN, `${video.name} is not upright ${measured}; see ${screenshot}`);
    });
  }

  for (const video of VIDEOS) {
    test(`${video.name}: segments are AES-128 encrypted`, async () => {
      await requireCompleted(video);
      await browser.settle();
      const streamPrefix = `${stack.edgeUrl}/stream/${video.hash}/`;
      const playlists = browser.responses.filter((entry) => entry.url.startsWith(streamPrefix) && entry.url.endsWith('.m3u8'));
      const mediaPlaylists = playlists.filter((entry) => entry.body.toString('utf8').includes('#EXTINF'));
      assert.ok(mediaPlaylists.length >= 1, `no media playlist of ${video.name} was loaded`);
      for (const playlist of mediaPlaylists) {
        const text = playlist.body.toString('utf8');
        assert.match(text, /#EXT-X-KEY:METHOD=AES-128,/, `${playlist.url} is not encrypted`);
        assert.match(text, new RegExp(`URI="[^"]*/api/key/${video.hash}"`), `${playlist.url} has another key URI`);
      }

      const segments = browser.responses.filter((entry) => entry.url.startsWith(streamPrefix) && entry.url.endsWith('.m4s'));
      assert.ok(segments.length >= 3, `only ${segments.length} segments of ${video.name} were loaded`);
      for (const segment of segments) {
        assert.equal(segment.status, 200, `${segment.url} returned ${segment.status}`);
        // A clear CMAF segment starts with a box header (styp or moof); an encrypted one does not.
        const boxType = segment.body.subarray(4, 8).toString('latin1');
        assert.ok(!['styp', 'moof', 'sidx'].includes(boxType), `${segment.url} is a clear ${boxType} box`);
      }
    });
  }

  test('key endpoint needs the playback token', async () => {
    const [first, second] = VIDEOS;
    await requireCompleted(first);
    await requireCompleted(second);
    assert.ok(first.page, `the watch page of ${first.name} is not open`);
    assert.ok(second.page, `the watch page of ${second.name} is not open`);
    const token = await first.page.evaluate(() => playback.token);
    const otherToken = await second.page.evaluate(() => playback.token);

    for (const base of [stack.edgeUrl, stack.originUrl]) {
      const url = `${base}/api/key/${first.hash}`;
      const anonymous = await fetch(url);
      await anonymous.arrayBuffer();
      assert.equal(anonymous.status, 401, `GET ${url} without a token returned ${anonymous.status}`);

      const wrongHash = await fetch(url, { headers: { Authorization: `Bearer ${otherToken}` } });
      await wrongHash.arrayBuffer();
      assert.equal(wrongHash.status, 403, `GET ${url} with another video's token returned ${wrongHash.status}`);

      const authorized = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
      const key = Buffer.from(await authorized.arrayBuffer());
      assert.equal(authorized.status, 200, `GET ${url} with the token returned ${authorized.status}`);
      assert.equal(key.length, 16, 'an AES-128 key is 16 bytes');
      assert.match(authorized.headers.get('cache-control') ?? '', /no-store/);
    }
  });

  test('token is sent only to the key endpoint', async () => {
    await browser.settle();
    const tokens = [];
    for (const video of VIDEOS) {
      await requireCompleted(video);
      tokens.push(await video.page.evaluate(() => playback.token));
    }

    for (const request of browser.requests) {
      for (const token of tokens) {
        assert.ok(!request.url.includes(token), `the playback token appears in the URL ${request.url}`);
      }
      const path = new URL(request.url).pathname;
      if (request.headers.authorization !== undefined) {
        assert.ok(path.startsWith('/api/key/'), `the browser sent Authorization to ${request.url}`);
      }
    }
    const keyRequests = browser.requests.filter((request) => new URL(request.url).pathname.startsWith('/api/key/'));
    assert.ok(keyRequests.some((request) => request.headers.authorization?.startsWith('Bearer ')), 'no key request carried a Bearer token');

    const log = stack.originRequestLog();
    const withAuthorization = log.filter((entry) => entry.authorization === true);
    for (const entry of withAuthorization) {
      assert.ok(entry.path.startsWith('/api/key/'), `the origin saw Authorization on ${entry.path}`);
    }
    for (const video of VIDEOS) {
      assert.ok(
        withAuthorization.some((entry) => entry.path === `/api/key/${video.hash}` && entry.status === 200),
        `the origin log has no authorized key request for ${video.hash}`,
      );
      assert.ok(
        log.some((entry) => entry.path.startsWith(`/stream/${video.hash}/`) && entry.authorization === false),
        `the origin log has no stream request for ${video.hash}`,
      );
    }
  });

  test('browser traffic holds no secret or bucket key', async () => {
    await browser.settle();
    const forbidden = Object.entries(stack.secretValues).map(([name, value]) => ({ name, value }));
    forbidden.push({ name: 'S3 access key', value: stack.s3.accessKey });
    for (const video of VIDEOS) {
      forbidden.push({ name: `bucket folder of ${video.name}`, value: `${videoFolder(video.hash)}/` });
      forbidden.push({ name: `source key of ${video.name}`, value: video.sourceKey });
    }

    const watchPages = browser.responses.filter((entry) => new URL(entry.url).pathname.startsWith('/watch/'));
    assert.equal(watchPages.length, VIDEOS.length, 'not every watch page was recorded');
    assert.ok(browser.responses.length > 10, `only ${browser.responses.length} responses were recorded`);
    for (const response of browser.responses) {
      const headers = Object.entries(response.headers).map(([name, value]) => `${name}: ${value}`).join('\n');
      for (const { name, value } of forbidden) {
        // Names only in messages: a failure must not print the secret it found.
        assert.ok(!headers.includes(value), `the headers of ${response.url} contain the ${name}`);
        assert.ok(!response.body.includes(value), `the body of ${response.url} contains the ${name}`);
      }
    }
    for (const request of browser.requests) {
      const headers = Object.values(request.headers).join('\n');
      for (const { name, value } of forbidden) {
        assert.ok(!request.url.includes(value), `the URL ${request.url} contains the ${name}`);
        assert.ok(!headers.includes(value), `the request headers to ${request.url} contain the ${name}`);
      }
    }
  });
});
