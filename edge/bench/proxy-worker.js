// Baseline for edge/bench/hit-latency.mjs: a worker that only forwards each request to
// ORIGIN_URL, with no checks and no cache.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(`${env.ORIGIN_URL}${url.pathname}${url.search}`, request);
  },
};
