// Baseline for edge/bench/hit-latency.mjs: a JavaScript worker that serves a request from the
// Cache API by path, or fetches it from ORIGIN_URL and stores it. It has none of the edge's checks,
// so comparing its hits with the edge's shows what the Rust worker adds to a hit.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const key = `${url.origin}${url.pathname}`;
    const stored = await caches.default.match(key);
    if (stored) {
      const headers = new Headers(stored.headers);
      headers.set('X-Vylux-Cache', 'HIT');
      return new Response(stored.body, { status: stored.status, headers });
    }
    const response = await fetch(`${env.ORIGIN_URL}${url.pathname}`);
    await caches.default.put(key, response.clone());
    return response;
  },
};
