// `wrangler deploy --dry-run` with the root wrangler.toml: runs the build command and bundles the
// worker as a deploy would, without contacting Cloudflare. Where this user may create a network
// namespace (root on Linux), it runs inside one without network, which proves the build offline.

import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { ROOT, WRANGLER, WRANGLER_ENV, missingTool } from './support/harness.mjs';

const execFileAsync = promisify(execFile);

const skip = missingTool();
if (skip) {
  console.log(`SKIP deploy dry run: ${skip}`);
}

function canIsolateNetwork() {
  try {
    execFileSync('unshare', ['-n', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('deploy dry run builds and bundles the worker', { skip: skip ?? false }, async () => {
  const outdir = await mkdtemp(join(tmpdir(), 'vylux-edge-deploy-'));
  try {
    const wranglerArgs = ['deploy', '--dry-run', '--outdir', outdir, '--config', join(ROOT, 'wrangler.toml')];
    const offline = canIsolateNetwork();
    if (!offline) {
      console.log('NOTE: unshare -n is not available here, so the dry run has network access');
    }
    const [command, args] = offline ? ['unshare', ['-n', WRANGLER, ...wranglerArgs]] : [WRANGLER, wranglerArgs];
    const { stdout } = await execFileAsync(command, args, {
      cwd: ROOT,
      // Rebuild even when edge/build/ is current, so the whole build runs without network.
      env: { ...process.env, ...WRANGLER_ENV, VYLUX_EDGE_REBUILD: '1' },
      maxBuffer: 64 * 1024 * 1024,
    });

    assert.match(stdout, /--dry-run: exiting now/);
    assert.match(stdout, /env\.ORIGIN_URL/);
    const files = await readdir(outdir);
    assert.ok(files.includes('index.js'), `no index.js in ${files.join(', ')}`);
    assert.ok(files.some((file) => file.endsWith('.wasm')), `no wasm module in ${files.join(', ')}`);
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
});
