// Stops the process groups that an end-to-end test file started, once that file's process is gone.
//
// The test process starts this script detached, with a pipe as its stdin, and writes one process
// group id per line for each service it starts. The pipe closes when the test process exits for
// any reason, SIGKILL from the test runner's timeout included. This script then sends SIGTERM to
// every group it was given, waits a moment, and sends SIGKILL to any group still alive.

import { setTimeout as sleep } from 'node:timers/promises';

const groups = new Set();
let pending = '';

// The test process's Ctrl-C must not stop this script before it has cleaned up.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});

function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

async function stopAll() {
  const alive = [...groups].filter((pgid) => signalGroup(pgid, 'SIGTERM'));
  if (alive.length === 0) {
    return;
  }
  await sleep(3000);
  for (const pgid of alive) {
    signalGroup(pgid, 'SIGKILL');
  }
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  const lines = pending.split('\n');
  pending = lines.pop();
  for (const line of lines) {
    const [command, value] = line.trim().split(' ');
    const pgid = Number(value);
    if (!Number.isInteger(pgid) || pgid <= 1) {
      continue;
    }
    if (command === 'add') {
      groups.add(pgid);
    } else if (command === 'remove') {
      groups.delete(pgid);
    }
  }
});
process.stdin.on('end', async () => {
  await stopAll();
  process.exit(0);
});
