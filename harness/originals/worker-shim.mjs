// Serves the original Cloudflare Worker (ORIGINALS_DIR/vmtp/worker/index.js) over node:http
// on 127.0.0.1, with an in-memory KV namespace as env.MESSAGES.
//
// The Worker is a module with `fetch(request, env, ctx)`; Node 20 has the same Request and
// Response globals as the Workers runtime, so each HTTP request is handed to it as a Request
// and its Response written back. The KV stub keeps what a Workers KV namespace offers the
// Worker (get, put, list with keys in lexicographic order), in memory, for this process only.
//
//   ORIGINALS_DIR  the directory holding the vmtp checkout
//   WORKER_PORT    where to listen (default 8787, wrangler dev's)
//   SERVER_URL     optional: passed to the Worker as env.SERVER_URL (it POSTs each message there)
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const dir = process.env.ORIGINALS_DIR;
if (!dir) {
  console.error('ORIGINALS_DIR is not set');
  process.exit(2);
}
const worker = (await import(pathToFileURL(path.join(dir, 'vmtp', 'worker', 'index.js')).href))
  .default;

/** The part of the Workers KV API the Worker uses. */
class MemoryKV {
  #items = new Map();
  async get(key) {
    return this.#items.has(key) ? this.#items.get(key) : null;
  }
  async put(key, value) {
    this.#items.set(String(key), String(value));
  }
  async list() {
    const keys = [...this.#items.keys()].sort().map((name) => ({ name }));
    return { keys, list_complete: true };
  }
}

const env = { MESSAGES: new MemoryKV() };
if (process.env.SERVER_URL) env.SERVER_URL = process.env.SERVER_URL;
const port = Number(process.env.WORKER_PORT || 8787);

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  const request = new Request(`http://127.0.0.1:${port}${req.url}`, {
    method: req.method,
    headers: Object.entries(req.headers).flatMap(([k, v]) =>
      Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]]),
    body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body,
  });
  const waits = [];
  const ctx = { waitUntil: (p) => waits.push(p), passThroughOnException() {} };
  let response;
  try {
    response = await worker.fetch(request, env, ctx);
  } catch (err) {
    // The Workers runtime answers an uncaught exception with a 500.
    console.error('worker threw:', err);
    response = new Response('Worker threw an exception', { status: 500 });
  }
  const out = Buffer.from(await response.arrayBuffer());
  const headers = Object.fromEntries(response.headers);
  headers['content-length'] = String(out.length);
  res.writeHead(response.status, headers);
  res.end(out);
  await Promise.allSettled(waits);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`worker shim listening on 127.0.0.1:${port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
