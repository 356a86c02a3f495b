// The machine's limit for API-key verification: a bare node:http server that, for every POST, reads
// the form body, takes its `key`, computes one SHA-256 of it and does one indexed lookup in a SQLite
// file (node:sqlite, WAL, 10,000 keys), then answers with the key's owner and scopes. No client
// authentication, no checksum, no expiry or allow-list logic, no bookkeeping.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

const dir = mkdtempSync(join(tmpdir(), 'bench-bare-keys-'));
const db = new DatabaseSync(join(dir, 'keys.db'));
db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
  CREATE TABLE api_keys (key_hash TEXT PRIMARY KEY, owner TEXT NOT NULL, scopes TEXT NOT NULL,
                         expires_at INTEGER NOT NULL) WITHOUT ROWID;`);
const sha256 = (text) => createHash('sha256').update(text).digest('hex');
const insert = db.prepare('INSERT INTO api_keys VALUES (?, ?, ?, ?)');
const keys = [];
db.exec('BEGIN');
for (let i = 0; i < 10_000; i++) {
  const key = `clv_${randomBytes(27).toString('base64url').replace(/[-_]/g, 'A').slice(0, 36)}`;
  keys.push(key);
  insert.run(sha256(key), `owner-${i}`, JSON.stringify(['read']), Date.now() + 86_400_000);
}
db.exec('COMMIT');
const lookup = db.prepare('SELECT owner, scopes, expires_at FROM api_keys WHERE key_hash = ?');

const server = createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(405).end();
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const key = new URLSearchParams(Buffer.concat(chunks).toString()).get('key') ?? '';
    const row = lookup.get(sha256(key));
    const body = row
      ? JSON.stringify({
          active: true,
          owner: row.owner,
          scope: JSON.parse(row.scopes).join(' '),
          exp: row.expires_at,
        })
      : JSON.stringify({ active: false });
    res.writeHead(row ? 200 : 401, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(body);
  });
});

server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: server.address().port, key: keys[0] });
});
process.on('SIGTERM', () =>
  server.close(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }),
);
