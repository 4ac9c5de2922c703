// The real inputs of the end-to-end tests and checks on the media they produce.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { FIXTURES_DIR, findOnPath } from './env.mjs';

/**
 * Fixtures from the shared folder (see its MANIFEST.md). `display` is the upright size a player
 * shows: the coded size turned by the container's rotation.
 */
export const FIXTURES = {
  // Apple iPad 2 recording, 568x320 H.264 + AAC with a 180° rotation in the track header, 2.7 s.
  rotatedPhone: {
    file: 'phone-ipad2-h264-aac-568x320-rot180.mov',
    extension: 'mov',
    display: { width: 568, height: 320 },
    durationSec: 2.675,
  },
  // ExoPlayer's 5 s landscape preroll, 640x360 H.264 Main + AAC, 25 fps.
  landscape: {
    file: 'h264-aac-640x360-25fps-5s.mp4',
    extension: 'mp4',
    display: { width: 640, height: 360 },
    durationSec: 5.039,
  },
};

/** Returns the path of a fixture file, or null when it is absent. */
export function fixturePath(fixture) {
  const path = join(FIXTURES_DIR, fixture.file);
  return existsSync(path) ? path : null;
}

/**
 * Writes `fixture` repeated `times` times into `dir` with `ffmpeg -stream_loop -c copy` and returns
 * the path, or null when ffmpeg is missing. The packets are the fixture's own, neither decoded nor
 * re-encoded, so the result is as real as the fixture but long enough for several 6 s segments.
 */
export function repeatedFixture(fixture, times, dir) {
  const ffmpeg = findOnPath('ffmpeg');
  const source = fixturePath(fixture);
  if (ffmpeg === null || source === null) {
    return null;
  }
  const output = join(dir, `repeated-${times}x-${fixture.file}`);
  execFileSync(ffmpeg, ['-v', 'error', '-y', '-stream_loop', String(times - 1), '-i', source, '-c', 'copy', output]);
  return output;
}

/** Returns a media hash that no earlier run used, such as `e2e-cover-3fa9c01b`. */
export function uniqueHash(label) {
  return `e2e-${label}-${randomBytes(4).toString('hex')}`;
}

/** Returns the media-bucket folder of a hash, `videos/{first two characters}/{hash}`. */
export function videoFolder(hash) {
  return `videos/${hash.slice(0, 2)}/${hash}`;
}

/**
 * Reads the frame size from a baseline or progressive JPEG's SOF segment. Throws when `bytes` is
 * not a JPEG or has no frame header.
 */
export function jpegSize(bytes) {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) {
    throw new Error(`not a JPEG: starts with ${bytes.subarray(0, 4).toString('hex')}`);
  }
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) {
      throw new Error(`malformed JPEG: no marker at byte ${offset}`);
    }
    const marker = bytes[offset + 1];
    if (marker === 0xff) {
      offset += 1;
      continue;
    }
    const length = bytes.readUInt16BE(offset + 2);
    // Markers C0 to CF are frame headers (SOFn, ITU-T T.81 table B.1) except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return { height: bytes.readUInt16BE(offset + 5), width: bytes.readUInt16BE(offset + 7) };
    }
    offset += 2 + length;
  }
  throw new Error('malformed JPEG: no frame header before the end');
}

/** Width and height of the grayscale thumbnails that frames are compared at. */
export const THUMBNAIL_SIZE = { width: 32, height: 18 };

/**
 * Decodes one frame with ffmpeg and returns it as THUMBNAIL_SIZE 8-bit luma values (area
 * averaged). ffmpeg turns rotated video upright, so the result is the frame a player should show.
 * `timeSec` is null for a still image.
 */
export function referenceThumbnail(path, timeSec = null) {
  const ffmpeg = findOnPath('ffmpeg');
  if (ffmpeg === null) {
    throw new Error('ffmpeg not found; install Debian\'s ffmpeg package');
  }
  const { width, height } = THUMBNAIL_SIZE;
  const seek = timeSec === null ? [] : ['-ss', timeSec.toFixed(3)];
  const raw = execFileSync(ffmpeg, [
    '-v', 'error', ...seek, '-i', path, '-frames:v', '1',
    '-vf', `scale=${width}:${height}:flags=area,format=gray`, '-f', 'rawvideo', '-',
  ]);
  if (raw.length !== width * height) {
    throw new Error(`ffmpeg returned ${raw.length} bytes for a ${width}x${height} frame of ${path}`);
  }
  return Array.from(raw);
}

/** Returns the thumbnail turned by 180°. */
export function rotated180(thumbnail) {
  return [...thumbnail].reverse();
}

/** Returns the Pearson correlation of two equally long arrays (0 when either is flat). */
export function correlation(first, second) {
  const count = first.length;
  const meanFirst = first.reduce((sum, value) => sum + value, 0) / count;
  const meanSecond = second.reduce((sum, value) => sum + value, 0) / count;
  let covariance = 0;
  let varianceFirst = 0;
  let varianceSecond = 0;
  for (let index = 0; index < count; index += 1) {
    const a = first[index] - meanFirst;
    const b = second[index] - meanSecond;
    covariance += a * b;
    varianceFirst += a * a;
    varianceSecond += b * b;
  }
  return varianceFirst === 0 || varianceSecond === 0 ? 0 : covariance / Math.sqrt(varianceFirst * varianceSecond);
}

/** Returns the mean absolute difference of two equally long arrays of 8-bit values. */
export function meanAbsoluteDifference(first, second) {
  let total = 0;
  for (let index = 0; index < first.length; index += 1) {
    total += Math.abs(first[index] - second[index]);
  }
  return total / first.length;
}
