// End-to-end tests of the edge worker: `wrangler dev` (real workerd) in front of the real
// `vylux serve`. The origin logs one JSON line per request, which shows what reached it.

import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';

import { gradientPng, nowSecs, randomSegment, signJwt, signTwoPart } from './support/fixtures.mjs';
import { SECRETS, edgeVars, freePort, missingTool, startEdge, startOrigin, vylux } from './support/harness.mjs';

const skip = missingTool();
if (skip) {
  console.log(`SKIP edge tests: ${skip}`);
}

const HASH = 'edgetest01';
const VIDEO_DIR = `videos/ed/${HASH}`;
const PLAYLIST = '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg_1.m4s\n#EXT-X-ENDLIST\n';

async function send(baseUrl, path, init = {}) {
  const response = await fetch(`${baseUrl}${path}`, { redirect: 'manual', ...init });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, body, text: body.toString('utf8') };
}

/** Sends a GET with the path exactly as written, because fetch() would resolve `..` first. */
function sendRawPath(baseUrl, rawPath) {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolveResponse, reject) => {
    const req = httpRequest({ hostname, port, path: rawPath, method: 'GET' }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolveResponse({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

function requestsFor(lines, path) {
  return lines.filter((line) => line.path === path);
}

describe('edge worker in front of vylux serve', { skip: skip ?? false }, () => {
  let origin;
  let edge;

  before(async () => {
    origin = await startOrigin();
    // This edge uses the root wrangler.toml, so wrangler runs the build command offline.
    edge = await startEdge({ vars: edgeVars(origin.url), build: true });
  });

  after(async () => {
    await edge?.stop();
    await origin?.stop();
  });

  describe('health', () => {
    it('answers /healthz at the edge', async () => {
      const before = requestsFor(await origin.requests(), '/healthz').length;
      const response = await send(edge.url, '/healthz');
      assert.equal(response.status, 200);
      assert.deepEqual(JSON.parse(response.text), { status: 'ok' });
      assert.equal(requestsFor(await origin.requests(), '/healthz').length, before);
    });
  });

  describe('HLS streams', () => {
    const segment = randomSegment(48 * 1024);

    before(async () => {
      await origin.putMedia(`${VIDEO_DIR}/master.m3u8`, PLAYLIST);
      await origin.putMedia(`${VIDEO_DIR}/video/r720/seg_1.m4s`, segment);
      await origin.putMedia(`${VIDEO_DIR}/video/r720/seg_2.m4s`, randomSegment(1000));
      await origin.putMedia(`${VIDEO_DIR}/video/r720/seg_3.m4s`, randomSegment(1000));
      await origin.putMedia(`${VIDEO_DIR}/video/r720/seg_4.m4s`, randomSegment(2000));
    });

    it('serves a repeated segment from the cache', async () => {
      const path = `/stream/${HASH}/video/r720/seg_1.m4s`;
      const first = await send(edge.url, path);
      const second = await send(edge.url, path);

      assert.equal(first.status, 200);
      assert.equal(first.headers.get('x-vylux-cache'), 'MISS');
      assert.equal(second.status, 200);
      assert.equal(second.headers.get('x-vylux-cache'), 'HIT');
      assert.ok(first.body.equals(segment), 'first body differs from the stored segment');
      assert.ok(second.body.equals(segment), 'cached body differs from the stored segment');
      assert.equal(requestsFor(await origin.requests(), path).length, 1);
    });

    it('keeps the origin cache headers on playlists', async () => {
      const path = `/stream/${HASH}/master.m3u8`;
      const direct = await send(origin.url, path);
      const miss = await send(edge.url, path);
      const hit = await send(edge.url, path);

      assert.equal(miss.text, PLAYLIST);
      assert.equal(hit.text, PLAYLIST);
      for (const response of [miss, hit]) {
        assert.equal(response.headers.get('cache-control'), direct.headers.get('cache-control'));
        assert.equal(response.headers.get('content-type'), direct.headers.get('content-type'));
        assert.equal(response.headers.get('etag'), direct.headers.get('etag'));
      }
      assert.equal(hit.headers.get('x-vylux-cache'), 'HIT');
    });

    it('ignores query strings in the cache key', async () => {
      const path = `/stream/${HASH}/video/r720/seg_2.m4s`;
      const first = await send(edge.url, `${path}?session=1`);
      const second = await send(edge.url, `${path}?session=2&x=y`);

      assert.equal(first.headers.get('x-vylux-cache'), 'MISS');
      assert.equal(second.headers.get('x-vylux-cache'), 'HIT');
      assert.equal(requestsFor(await origin.requests(), path).length, 1);
    });

    it('answers HEAD without storing it', async () => {
      const path = `/stream/${HASH}/video/r720/seg_3.m4s`;
      const head = await send(edge.url, path, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), '1000');
      assert.equal(head.body.length, 0);
      assert.equal(head.headers.get('x-vylux-cache'), 'MISS');

      // The HEAD was not stored, so the first GET is a miss; after it, HEAD is a hit.
      const get = await send(edge.url, path);
      assert.equal(get.headers.get('x-vylux-cache'), 'MISS');
      const cachedHead = await send(edge.url, path, { method: 'HEAD' });
      assert.equal(cachedHead.status, 200);
      assert.equal(cachedHead.headers.get('x-vylux-cache'), 'HIT');
      assert.equal(cachedHead.headers.get('content-length'), '1000');

      const methods = requestsFor(await origin.requests(), path).map((line) => line.method);
      assert.deepEqual(methods, ['HEAD', 'GET']);
    });

    it('answers a Range request from the cached object', async () => {
      const path = `/stream/${HASH}/video/r720/seg_1.m4s`;
      const before = requestsFor(await origin.requests(), path).length;

      const partial = await send(edge.url, path, { headers: { Range: 'bytes=100-199' } });
      assert.equal(partial.status, 206);
      assert.equal(partial.headers.get('content-range'), `bytes 100-199/${segment.length}`);
      assert.equal(partial.headers.get('x-vylux-cache'), 'HIT');
      assert.ok(partial.body.equals(segment.subarray(100, 200)), 'range body differs');
      assert.equal(requestsFor(await origin.requests(), path).length, before);
    });

    it('fetches the full object for a Range miss and never stores the 206', async () => {
      const path = `/stream/${HASH}/video/r720/seg_4.m4s`;
      const partial = await send(edge.url, path, { headers: { Range: 'bytes=0-9' } });
      assert.equal(partial.status, 206);
      assert.equal(partial.body.length, 10);
      assert.equal(partial.headers.get('x-vylux-cache'), 'MISS');

      // The origin saw one full GET without Range, and the cache contains the full 200.
      const lines = requestsFor(await origin.requests(), path);
      assert.equal(lines.length, 1);
      assert.equal(lines[0].range, false);
      const full = await send(edge.url, path);
      assert.equal(full.status, 200);
      assert.equal(full.body.length, 2000);
      assert.equal(full.headers.get('x-vylux-cache'), 'HIT');
    });

    it('rejects traversal and other file types at the edge', async () => {
      const cases = [
        `/stream/${HASH}/video/../../secret.m3u8`,
        `/stream/${HASH}/%2e%2e/secret.m3u8`,
        `/stream/${HASH}/notes.txt`,
        `/stream/${HASH}/`,
        '/stream/.hidden/master.m3u8',
      ];
      for (const rawPath of cases) {
        const response = await sendRawPath(edge.url, rawPath);
        assert.equal(response.status, 400, rawPath);
        assert.equal(response.headers['cache-control'], 'no-store', rawPath);
        assert.equal(response.headers['access-control-allow-origin'], '*', rawPath);
      }
      const reached = (await origin.requests()).filter((line) => line.path.includes('secret') || line.path.includes('notes'));
      assert.deepEqual(reached, []);
    });

    it('does not cache a missing object', async () => {
      const path = `/stream/${HASH}/video/r720/seg_99.m4s`;
      const first = await send(edge.url, path);
      const second = await send(edge.url, path);
      assert.equal(first.status, 404);
      assert.equal(second.status, 404);
      assert.equal(second.headers.get('x-vylux-cache'), 'MISS');
      assert.equal(requestsFor(await origin.requests(), path).length, 2);
    });
  });

  describe('signed images', () => {
    const cover = randomSegment(3000);
    const coverKey = `${VIDEO_DIR}/cover.jpg`;

    before(async () => {
      await origin.putMedia(coverKey, cover);
      await origin.putSource('photos/cat.png', gradientPng());
    });

    it('serves a URL from vylux sign and caches it', async () => {
      const path = await vylux('sign', 'thumb', coverKey);
      const first = await send(edge.url, path);
      const second = await send(edge.url, path);

      assert.equal(first.status, 200);
      assert.equal(first.headers.get('x-vylux-cache'), 'MISS');
      assert.ok(first.body.equals(cover), 'thumb body differs from the stored object');
      assert.equal(second.headers.get('x-vylux-cache'), 'HIT');
      assert.ok(second.body.equals(cover), 'cached thumb body differs');
      assert.equal(requestsFor(await origin.requests(), path).length, 1);
    });

    it('rejects a bad signature, then serves the signed URL', async () => {
      const key = `${VIDEO_DIR}/preview.webp`;
      await origin.putMedia(key, randomSegment(500));
      const good = await vylux('sign', 'thumb', key);
      const signature = good.split('/')[2];
      const forged = good.replace(signature, `${signature[0] === '0' ? '1' : '0'}${signature.slice(1)}`);

      const rejected = await send(edge.url, forged);
      assert.equal(rejected.status, 403);
      assert.equal(rejected.headers.get('cache-control'), 'no-store');
      assert.equal(rejected.headers.get('access-control-allow-origin'), '*');
      assert.equal(requestsFor(await origin.requests(), forged).length, 0);

      const accepted = await send(edge.url, good);
      assert.equal(accepted.status, 200);
      assert.equal(accepted.headers.get('x-vylux-cache'), 'MISS');
    });

    it('rejects a signature made for another endpoint', async () => {
      const thumbPath = await vylux('sign', 'thumb', coverKey);
      const moved = thumbPath.replace('/thumb/', '/original/');
      const response = await send(edge.url, moved);
      assert.equal(response.status, 403);
      assert.equal(requestsFor(await origin.requests(), moved).length, 0);
    });

    it('rejects malformed paths with 400', async () => {
      const good = await vylux('sign', 'thumb', coverKey);
      const signature = good.split('/')[2];
      for (const path of ['/thumb/abc', `/thumb/${signature}/`, '/img/abc/w10/x.png.bmp']) {
        const response = await send(edge.url, path);
        assert.equal(response.status, 400, path);
        assert.equal(response.headers.get('cache-control'), 'no-store', path);
      }
    });

    it('serves /original byte for byte', async () => {
      const path = await vylux('sign', 'original', 'photos/cat.png');
      const response = await send(edge.url, path);
      assert.equal(response.status, 200);
      assert.ok(response.body.equals(gradientPng()), 'original body differs');
    });

    it('forwards a signed /img request and stores only a 200', async () => {
      const path = await vylux('sign', 'img', 'w8_h8', 'photos/cat.png', 'webp');
      const first = await send(edge.url, path);
      const second = await send(edge.url, path);
      const reached = requestsFor(await origin.requests(), path).length;

      assert.equal(first.headers.get('x-vylux-cache'), 'MISS');
      if (first.status === 200) {
        assert.equal(second.headers.get('x-vylux-cache'), 'HIT');
        assert.equal(reached, 1);
      } else {
        assert.equal(second.headers.get('x-vylux-cache'), 'MISS');
        assert.equal(reached, 2);
      }
    });

    it('rejects other methods', async () => {
      const path = await vylux('sign', 'thumb', coverKey);
      const response = await send(edge.url, path, { method: 'POST', body: 'x' });
      assert.equal(response.status, 405);
      assert.equal(response.headers.get('allow'), 'GET, HEAD, OPTIONS');
      const posts = requestsFor(await origin.requests(), path).filter((line) => line.method === 'POST');
      assert.deepEqual(posts, []);
    });

    it('answers the delivery preflight at the edge', async () => {
      const path = `/stream/${HASH}/video/r720/seg_1.m4s`;
      const response = await send(edge.url, path, {
        method: 'OPTIONS',
        headers: { Origin: 'http://player.test', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range' },
      });
      assert.equal(response.status, 204);
      assert.equal(response.headers.get('access-control-allow-origin'), '*');
      assert.match(response.headers.get('access-control-allow-headers'), /range/i);
      const preflights = requestsFor(await origin.requests(), path).filter((line) => line.method === 'OPTIONS');
      assert.deepEqual(preflights, []);
    });
  });

  describe('content keys', () => {
    const keyPath = `/api/key/${HASH}`;

    it('answers the preflight at the edge', async () => {
      const response = await send(edge.url, keyPath, {
        method: 'OPTIONS',
        headers: {
          Origin: 'http://player.test',
          'Access-Control-Request-Method': 'GET',
          'Access-Control-Request-Headers': 'authorization',
        },
      });
      assert.equal(response.status, 204);
      assert.equal(response.headers.get('access-control-allow-origin'), '*');
      assert.match(response.headers.get('access-control-allow-headers'), /authorization/i);
      assert.match(response.headers.get('access-control-allow-methods'), /GET/);
      assert.equal(requestsFor(await origin.requests(), keyPath).length, 0);
    });

    it('rejects missing and invalid tokens before the origin', async () => {
      const now = nowSecs();
      const secret = SECRETS.KEY_TOKEN_SECRET;
      const otherHashToken = await vylux('token', 'mint', 'someotherhash');
      const cases = [
        { name: 'no header', headers: {}, status: 401 },
        { name: 'other scheme', headers: { Authorization: 'Basic dXNlcjpwdw==' }, status: 401 },
        { name: 'empty bearer', headers: { Authorization: 'Bearer ' }, status: 401 },
        { name: 'garbage', headers: { Authorization: 'Bearer not-a-token' }, status: 403 },
        { name: 'other hash', headers: { Authorization: `Bearer ${otherHashToken}` }, status: 403 },
        { name: 'expired jwt', headers: { Authorization: `Bearer ${signJwt({ hash: HASH, exp: now - 600 }, secret)}` }, status: 403 },
        { name: 'expired two-part', headers: { Authorization: `Bearer ${signTwoPart({ hash: HASH, exp: now - 600 }, secret)}` }, status: 403 },
        { name: 'wrong secret', headers: { Authorization: `Bearer ${signJwt({ hash: HASH, exp: now + 600 }, 'x'.repeat(32))}` }, status: 403 },
      ];
      for (const { name, headers, status } of cases) {
        const response = await send(edge.url, keyPath, { headers });
        assert.equal(response.status, status, name);
        assert.equal(response.text, status === 401 ? 'Unauthorized' : 'Forbidden', name);
        assert.equal(response.headers.get('access-control-allow-origin'), '*', name);
        assert.equal(response.headers.get('cache-control'), 'no-store', name);
      }
      assert.equal(requestsFor(await origin.requests(), keyPath).length, 0);
    });

    it('reads the token only from the Authorization header', async () => {
      const token = await vylux('token', 'mint', HASH);
      const response = await send(edge.url, `${keyPath}?token=${token}`);
      assert.equal(response.status, 401);
      assert.equal(requestsFor(await origin.requests(), keyPath).length, 0);
    });

    it('forwards a valid token and never caches the answer', async () => {
      const token = await vylux('token', 'mint', HASH);
      const headers = { Authorization: `Bearer ${token}` };
      const direct = await send(origin.url, keyPath, { headers });
      const first = await send(edge.url, keyPath, { headers });
      const second = await send(edge.url, keyPath, { headers });

      for (const response of [first, second]) {
        assert.equal(response.status, direct.status);
        assert.ok(response.body.equals(direct.body), 'key response body differs from the origin');
        assert.equal(response.headers.get('cache-control'), 'no-store');
        assert.equal(response.headers.get('access-control-allow-origin'), '*');
        assert.equal(response.headers.get('x-vylux-cache'), null);
      }
      const lines = requestsFor(await origin.requests(), keyPath);
      assert.equal(lines.length, 3, 'the direct request and both edge requests reach the origin');
      assert.ok(lines.every((line) => line.authorization === true), 'Authorization was not forwarded');
    });
  });

  describe('job API pass-through', () => {
    it('forwards /api requests unchanged and never caches them', async () => {
      const path = '/api/jobs/00000000-0000-4000-8000-000000000000';
      const headers = { 'X-API-Key': SECRETS.API_KEY };
      const direct = await send(origin.url, path, { headers });
      const first = await send(edge.url, `${path}?view=1`, { headers });
      const second = await send(edge.url, `${path}?view=1`, { headers });

      for (const response of [first, second]) {
        assert.equal(response.status, direct.status);
        assert.equal(response.text, direct.text);
        assert.equal(response.headers.get('x-vylux-cache'), null);
      }
      assert.equal(requestsFor(await origin.requests(), path).length, 3);
    });

    it('forwards the request body and the API key', async () => {
      const init = {
        method: 'POST',
        headers: { 'X-API-Key': SECRETS.API_KEY, 'Content-Type': 'application/json' },
        body: JSON.stringify({ type: 'image:thumbnail', hash: 'bodycheck', source: '' }),
      };
      const direct = await send(origin.url, '/api/jobs', init);
      const viaEdge = await send(edge.url, '/api/jobs', init);
      assert.equal(viaEdge.status, direct.status);
      assert.equal(viaEdge.text, direct.text);

      const unauthenticated = await send(edge.url, '/api/jobs', { ...init, headers: { 'Content-Type': 'application/json' } });
      assert.equal(unauthenticated.status, 401);
    });
  });
});

describe('edge worker failure modes', { skip: skip ?? false }, () => {
  it('answers 502 for an unreachable origin and does not cache it', async () => {
    const port = await freePort();
    const edge = await startEdge({ vars: edgeVars(`http://127.0.0.1:${port}`) });
    let origin;
    try {
      const path = `/stream/${HASH}/master.m3u8`;
      const unreachable = await send(edge.url, path);
      assert.equal(unreachable.status, 502);
      assert.equal(unreachable.headers.get('cache-control'), 'no-store');
      assert.match(JSON.parse(unreachable.text).message, /origin server could not be reached/);
      await edge.waitForOutput(/origin_unreachable/);

      origin = await startOrigin({ port });
      await origin.putMedia(`${VIDEO_DIR}/master.m3u8`, PLAYLIST);
      const recovered = await send(edge.url, path);
      assert.equal(recovered.status, 200);
      assert.equal(recovered.headers.get('x-vylux-cache'), 'MISS');
      assert.equal(recovered.text, PLAYLIST);
    } finally {
      await edge.stop();
      await origin?.stop();
    }
  });

  it('answers 500 when a secret is missing or too short', async () => {
    const origin = await startOrigin();
    const shortToken = 'short-token-secret-value';
    const edges = [
      { variable: 'HMAC_SECRET', vars: edgeVars(origin.url, { HMAC_SECRET: undefined }), hidden: SECRETS.KEY_TOKEN_SECRET },
      { variable: 'KEY_TOKEN_SECRET', vars: edgeVars(origin.url, { KEY_TOKEN_SECRET: shortToken }), hidden: shortToken },
    ];
    try {
      for (const { variable, vars, hidden } of edges) {
        const edge = await startEdge({ vars });
        try {
          for (const path of ['/healthz', `/stream/${HASH}/master.m3u8`, '/api/jobs']) {
            const response = await send(edge.url, path);
            assert.equal(response.status, 500, `${variable} ${path}`);
            assert.doesNotMatch(response.text, new RegExp(hidden), `${variable} ${path}`);
          }
          await edge.waitForOutput(new RegExp(`config_invalid.*${variable}`));
          assert.ok(!edge.output().includes(hidden), `the log shows a secret value while ${variable} is invalid`);
        } finally {
          await edge.stop();
        }
      }
      const forwarded = (await origin.requests()).filter((line) => line.path !== '/healthz');
      assert.deepEqual(forwarded, [], 'a misconfigured edge forwarded a request');
    } finally {
      await origin.stop();
    }
  });
});
