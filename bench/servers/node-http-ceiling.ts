// The least a token endpoint can do in one Node process: bare node:http reading a form body, parsing it and
// answering a small JSON document. The "node:http POST ceiling"; Gatehouse's target is 60 % of it.
import http from 'node:http';

const BODY = JSON.stringify({ access_token: 'x'.repeat(60), token_type: 'Bearer', expires_in: 3600 });
const server = http.createServer((request, response) => {
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => {
    body += chunk;
  });
  request.on('end', () => {
    // Parsed as a real endpoint would, so the ceiling pays for it too.
    const params = new URLSearchParams(body);
    response.writeHead(params.size >= 0 ? 200 : 400, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    });
    response.end(BODY);
  });
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ port, clientId: '', clientSecret: '' })}\n`);
});
