// A webhook receiver on 127.0.0.1 that records each delivery and checks its signature the way a
// Vylux client does: `X-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the
// WEBHOOK_SECRET string's bytes>`.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

/** Returns true when `header` is `sha256=` followed by the body's HMAC under `secret`. */
export function validSignature(secret, body, header) {
  const expected = `sha256=${createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('hex')}`;
  const received = Buffer.from(header ?? '', 'utf8');
  return received.length === expected.length && timingSafeEqual(received, Buffer.from(expected, 'utf8'));
}

export class WebhookReceiver {
  /** Starts listening on a free port of 127.0.0.1. */
  static async start(secret) {
    const receiver = new WebhookReceiver(secret);
    await new Promise((resolvePromise) => receiver.server.listen(0, '127.0.0.1', resolvePromise));
    receiver.url = `http://127.0.0.1:${receiver.server.address().port}/webhooks`;
    return receiver;
  }

  constructor(secret) {
    this.secret = secret;
    /** Every delivery: `{ path, headers, body, signatureValid, payload }`. */
    this.deliveries = [];
    this.server = createServer((request, response) => {
      const chunks = [];
      request.on('data', (chunk) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks);
        let payload = null;
        try {
          payload = JSON.parse(body.toString('utf8'));
        } catch {
          payload = null;
        }
        const signatureValid = validSignature(this.secret, body, request.headers['x-signature']);
        this.deliveries.push({ path: request.url, headers: request.headers, body, signatureValid, payload });
        response.writeHead(signatureValid ? 204 : 401);
        response.end();
      });
    });
  }

  /** Returns the deliveries whose payload names `jobId`. */
  deliveriesFor(jobId) {
    return this.deliveries.filter((delivery) => delivery.payload?.job_id === jobId);
  }

  async close() {
    this.server.closeAllConnections?.();
    await new Promise((resolvePromise) => this.server.close(resolvePromise));
  }
}
