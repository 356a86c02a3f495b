#!/usr/bin/env node
// A local workload-token issuer, to try workload identity federation without a CI platform: it plays
// the part GitHub Actions, GitLab CI or a Kubernetes cluster plays, signing short-lived OIDC tokens
// with its own ES256 key. Node's standard library only.
//
//   node examples/local-issuer.mjs init DIR [--issuer URL]
//       makes DIR/issuer.key (the private key, 0600), DIR/jwks.json (the public keys, for
//       `clavis admin federations create --jwks-file DIR/jwks.json`) and DIR/issuer (its URL, by
//       default https://ci.local.test); prints the issuer URL
//   node examples/local-issuer.mjs token DIR --aud AUDIENCE --sub SUBJECT [--claim NAME=VALUE]... [--ttl SECONDS]
//       prints a workload token: iss, sub, aud, iat, nbf, exp and a unique jti (accepted once)
//   node examples/local-issuer.mjs serve DIR
//       for an issuer made with `--issuer http://127.0.0.1:PORT`: serves its OIDC discovery document
//       and JWKS there, as a CI platform does, so a federation can find the keys by discovery
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const DEFAULT_ISSUER = 'https://ci.local.test';
const KID = 'local-issuer-1';

const b64url = (data) => Buffer.from(data).toString('base64url');

function usage(message) {
  process.stderr.write(
    `local-issuer: ${message}\nusage: local-issuer.mjs init DIR [--issuer URL] | token DIR --aud AUD --sub SUB [--claim NAME=VALUE]... [--ttl SECONDS] | serve DIR\n`,
  );
  process.exit(1);
}

function init(dir, args) {
  let issuer = DEFAULT_ISSUER;
  if (args.length > 0) {
    if (args[0] !== '--issuer' || args.length !== 2) usage('init takes only --issuer URL');
    issuer = args[1];
  }
  let url;
  try {
    url = new URL(issuer);
  } catch {
    usage(`--issuer must be a URL, not ${issuer}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') usage('--issuer must be an http(s) URL');
  issuer = url.href.replace(/\/$/, '');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'issuer.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'ES256', use: 'sig' };
  writeFileSync(join(dir, 'jwks.json'), `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`);
  writeFileSync(join(dir, 'issuer'), `${issuer}\n`);
  process.stdout.write(`${issuer}\n`);
}

const issuerOf = (dir) => readFileSync(join(dir, 'issuer'), 'utf8').trim();

function serve(dir) {
  const issuer = new URL(issuerOf(dir));
  if (issuer.protocol !== 'http:' || !['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname)) {
    usage('serve needs an issuer made with --issuer http://127.0.0.1:PORT');
  }
  const base = issuer.href.replace(/\/$/, '');
  const jwks = readFileSync(join(dir, 'jwks.json'), 'utf8');
  const discovery = JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` });
  const prefix = issuer.pathname.replace(/\/$/, '');
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', base).pathname;
    const body =
      path === `${prefix}/.well-known/openid-configuration`
        ? discovery
        : path === `${prefix}/jwks`
          ? jwks
          : undefined;
    response.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    response.end(body ?? '{"error":"not_found"}');
  });
  server.listen(Number(issuer.port || 80), issuer.hostname.replace(/^\[|\]$/g, ''), () => {
    process.stderr.write(`local issuer ${base}: discovery and JWKS served until stopped\n`);
  });
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => server.close());
}

function token(dir, args) {
  const claims = {};
  let ttl = 300;
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (value === undefined) usage(`${flag} needs a value`);
    if (flag === '--aud') claims.aud = value;
    else if (flag === '--sub') claims.sub = value;
    else if (flag === '--ttl') ttl = Number(value);
    else if (flag === '--claim') {
      const at = value.indexOf('=');
      if (at < 1) usage(`--claim takes NAME=VALUE, not ${value}`);
      claims[value.slice(0, at)] = value.slice(at + 1);
    } else usage(`unknown option ${flag}`);
  }
  if (!claims.aud || !claims.sub) usage('--aud and --sub are required');
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 3600) usage('--ttl is 1 to 3600 seconds');
  const key = createPrivateKey(readFileSync(join(dir, 'issuer.key'), 'utf8'));
  createPublicKey(key); // fails early on a damaged key file
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'ES256', typ: 'JWT', kid: KID };
  const payload = { iss: issuerOf(dir), iat: now, nbf: now, exp: now + ttl, jti: randomUUID(), ...claims };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  process.stdout.write(`${input}.${b64url(signature)}\n`);
}

const [command, dir, ...rest] = process.argv.slice(2);
if (!dir) usage('a directory is required');
if (command === 'init') init(dir, rest);
else if (command === 'token') token(dir, rest);
else if (command === 'serve') serve(dir);
else usage(`unknown command ${command ?? '(none)'}`);
