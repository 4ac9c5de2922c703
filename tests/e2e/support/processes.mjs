// Starts the services of an end-to-end test as detached process groups and stops every one of them,
// whether the tests pass, fail or the test process is killed.
//
// Each service runs in its own process group, so stopping it also stops its children (wrangler
// starts workerd, for example). Three layers stop them: `stopAll()` from the test's `after` hook,
// a synchronous SIGKILL from the `exit` event, and the reaper process (reaper.mjs), which acts
// when the test process dies without running either.

import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const REAPER_PATH = fileURLToPath(new URL('./reaper.mjs', import.meta.url));
// Time a service gets to exit after SIGTERM before it gets SIGKILL, in milliseconds.
const STOP_GRACE_MS = 5000;

const services = new Set();
let reaper = null;

function reaperInput() {
  if (reaper === null) {
    reaper = spawn(process.execPath, [REAPER_PATH], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    // The reaper must not keep the test process alive, and its pipe must not either.
    reaper.unref();
    reaper.stdin.on('error', () => {});
  }
  return reaper.stdin;
}

process.on('exit', () => {
  for (const service of services) {
    service.signal('SIGKILL');
  }
});

/** A service started by `startService`. */
export class Service {
  constructor(name, child, logPath) {
    this.name = name;
    this.child = child;
    this.logPath = logPath;
    this.exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
    this.exitStatus = null;
    this.exited.then((status) => {
      this.exitStatus = status;
    });
  }

  /** Returns true while the service's main process has not exited. */
  get running() {
    return this.exitStatus === null;
  }

  /** Sends `signal` to the service's whole process group; returns false when none is left. */
  signal(signal) {
    try {
      process.kill(-this.child.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** Stops the process group: SIGTERM, then SIGKILL after a grace period. */
  async stop() {
    if (this.signal('SIGTERM')) {
      const stopped = await Promise.race([this.exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
      if (!stopped) {
        this.signal('SIGKILL');
        await this.exited;
      }
      // Children may outlive the group leader for a moment after SIGTERM.
      this.signal('SIGKILL');
    }
    services.delete(this);
    reaperInput().write(`remove ${this.child.pid}\n`);
  }
}

/**
 * Starts `command` with `args` in a new process group, its stdout and stderr appended to
 * `logPath`. The environment is `env` alone plus PATH and HOME, so that no secret of the calling
 * shell reaches a service by accident.
 */
export function startService({ name, command, args = [], env = {}, cwd, logPath }) {
  const log = openSync(logPath, 'a');
  const child = spawn(command, args, {
    cwd,
    detached: true,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  if (child.pid === undefined) {
    throw new Error(`starting ${name} (${command}) failed: no process id`);
  }
  reaperInput().write(`add ${child.pid}\n`);
  const service = new Service(name, child, logPath);
  services.add(service);
  child.on('error', () => {});
  return service;
}

/** Stops every service still running, in the reverse order of starting. */
export async function stopAll() {
  for (const service of [...services].reverse()) {
    await service.stop();
  }
}
