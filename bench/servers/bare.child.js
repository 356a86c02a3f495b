// The machine's limit: a bare node:http server that, for every POST, reads the body and signs one
// EdDSA (Ed25519) JWT with node:crypto, then returns an OAuth token response. No parsing, no storage.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer } from 'node:http';

const { privateKey } = generateKeyPairSync('ed25519');
const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid: 'bare' })).toString(
  'base64url',
);

const server = createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    Buffer.concat(chunks); // the body is read, not interpreted
    const now = Math.floor(Date.now() / 1000);
    const payload = Buffer.from(
      JSON.stringify({
        iss: 'http://127.0.0.1',
        sub: 'bench',
        aud: 'https://api.bench.example/',
        client_id: 'bench',
        scope: 'read',
        iat: now,
        exp: now + 3600,
        jti: randomBytes(16).toString('base64url'),
      }),
    ).toString('base64url');
    const input = `${header}.${payload}`;
    const token = `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
    const body = JSON.stringify({
      access_token: token,
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'read',
    });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(body);
  });
});

server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: server.address().port });
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
