#!/usr/bin/env node
// A local workload-token issuer, to try workload identity federation without a CI platform: it plays
// the part GitHub Actions, GitLab CI or a Kubernetes cluster plays, signing short-lived OIDC tokens
// with its own ES256 key. Node's standard library only.
//
//   node examples/local-issuer.mjs init DIR
//       makes DIR/issuer.key (the private key, 0600) and DIR/jwks.json (the public keys, for
//       `clavis admin federations create --jwks-file DIR/jwks.json`); prints the issuer URL
//   node examples/local-issuer.mjs token DIR --aud AUDIENCE --sub SUBJECT [--claim NAME=VALUE]... [--ttl SECONDS]
//       prints a workload token: iss, sub, aud, iat, nbf, exp and a unique jti (accepted once)
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const ISSUER = 'https://ci.local.test';
const KID = 'local-issuer-1';

const b64url = (data) => Buffer.from(data).toString('base64url');

function usage(message) {
  process.stderr.write(
    `local-issuer: ${message}\nusage: local-issuer.mjs init DIR | token DIR --aud AUD --sub SUB [--claim NAME=VALUE]... [--ttl SECONDS]\n`,
  );
  process.exit(1);
}

function init(dir) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'issuer.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: KID, alg: 'ES256', use: 'sig' };
  writeFileSync(join(dir, 'jwks.json'), `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`);
  process.stdout.write(`${ISSUER}\n`);
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
  const payload = { iss: ISSUER, iat: now, nbf: now, exp: now + ttl, jti: randomUUID(), ...claims };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  process.stdout.write(`${input}.${b64url(signature)}\n`);
}

const [command, dir, ...rest] = process.argv.slice(2);
if (!dir) usage('a directory is required');
if (command === 'init') init(dir);
else if (command === 'token') token(dir, rest);
else usage(`unknown command ${command ?? '(none)'}`);
