// A tiny real HTTP server on 127.0.0.1 answering from a script (429, 503, dropped
// connections), recording every request so tests can count attempts.
import { createServer } from 'node:http';

export async function startScripted() {
  const script = [];
  const requests = [];
  const fallback = { status: 200, body: { success: true, data: { status: 'healthy' } } };
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body: raw ? JSON.parse(raw) : null });
      const answer = script.length ? script.shift() : fallback;
      if (answer === 'drop') return req.socket.destroy();
      const payload = answer.raw ?? JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'Content-Type': 'application/json', ...answer.headers });
      res.end(payload);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    reply(status, body, headers = {}) {
      script.push({ status, body, headers });
    },
    fail(status, code, headers = {}) {
      const error = { code, message: `scripted ${code}`, field: null, details: {} };
      script.push({ status, body: { success: false, data: null, meta: { request_id: 'req_x' }, errors: [error] }, headers });
    },
    replyRaw(status, raw, contentType) {
      script.push({ status, raw, headers: { 'Content-Type': contentType } });
    },
    drop() {
      script.push('drop');
    },
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}
