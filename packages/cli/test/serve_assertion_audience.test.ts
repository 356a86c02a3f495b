/**
 * CA-04: `clavis serve --assertion-audience MODE` (or CLAVIS_ASSERTION_AUDIENCE) decides whether a
 * private_key_jwt assertion may name the token endpoint as its `aud`. The mode is in the start-up banner;
 * a bad value is one stderr line and a non-zero exit. Each start records the mode in the database, where
 * `clavis admin posture` reads it.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/free_port.js';
import { postForm, TOKEN_PATH } from '../../../test/support/oauth.js';
import type { Io } from '../src/io.js';
import { main } from '../src/main.js';
import { initDatabase, lines, runCli, type Scratch, scratch, TextSink } from './support/cli.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');

/** `clavis serve` in this process, until `stop()`; resolves once the banner is written. */
async function serveInProcess(argv: string[], env: Record<string, string> = {}) {
  const stderr = new TextSink();
  let stop: (signal: string) => void = () => {};
  const io: Io = {
    stdout: new TextSink(),
    stderr,
    stdin: Readable.from(['']),
    env,
    stopSignal: new Promise<string>((resolve) => {
      stop = resolve;
    }),
  };
  const exited = main(['serve', ...argv], io);
  let code: number | undefined;
  void exited.then((c) => {
    code = c;
  });
  while (!stderr.text.includes('Next steps:')) {
    if (code !== undefined) throw new Error(`serve exited ${code}: ${stderr.text}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return {
    banner: stderr.text,
    async stop(): Promise<number> {
      stop('SIGTERM');
      return exited;
    },
  };
}

describe('clavis serve --assertion-audience (CA-04)', () => {
  let tmp: Scratch;
  let clientId: string;

  beforeAll(async () => {
    tmp = scratch();
    await initDatabase(tmp.dbUrl);
    const jwksFile = join(tmp.dir, 'client.jwks.json');
    writeFileSync(
      jwksFile,
      JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] }),
    );
    const created = await runCli(
      [
        'admin',
        '--db',
        tmp.dbUrl,
        'clients',
        'create',
        '--name',
        'signer',
        '--kind',
        'confidential',
        '--auth-method',
        'private_key_jwt',
        '--jwks-file',
        jwksFile,
        '--scope',
        'read',
        '--json',
      ],
      { env: {} },
    );
    expect(created.code, created.stderr).toBe(0);
    clientId = (JSON.parse(created.stdout) as { client_id: string }).client_id;
  });
  afterAll(() => tmp.remove());

  async function exchange(base: string, aud: string): Promise<number> {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k1' })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(aud)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(privateKey);
    const res = await postForm(base, TOKEN_PATH, {
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    });
    return res.status;
  }

  for (const how of ['flag', 'env'] as const) {
    it(`issuer (${how}): the token endpoint as aud is refused, the issuer accepted; the banner says so`, async () => {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const server = await serveInProcess(
        [
          '--db',
          tmp.dbUrl,
          '--port',
          String(port),
          ...(how === 'flag' ? ['--assertion-audience', 'issuer'] : []),
        ],
        how === 'env' ? { CLAVIS_ASSERTION_AUDIENCE: 'issuer' } : {},
      );
      try {
        expect(server.banner).toMatch(/^ {2}assertion {2}aud = issuer$/m);
        expect(await exchange(base, `${base}/oauth/token`)).toBe(401);
        expect(await exchange(base, base)).toBe(200);
      } finally {
        expect(await server.stop()).toBe(0);
      }
    });
  }

  it('the flag wins over the environment; the default stays issuer-or-token-endpoint', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const flagged = await serveInProcess(
      ['--db', tmp.dbUrl, '--port', String(port), '--assertion-audience', 'issuer-or-token-endpoint'],
      { CLAVIS_ASSERTION_AUDIENCE: 'issuer' },
    );
    try {
      expect(flagged.banner).toMatch(/^ {2}assertion {2}aud = issuer-or-token-endpoint$/m);
      expect(await exchange(base, `${base}/oauth/token`)).toBe(200);
    } finally {
      expect(await flagged.stop()).toBe(0);
    }
    const plain = await serveInProcess(['--db', tmp.dbUrl, '--port', String(port)]);
    try {
      expect(plain.banner).toMatch(/^ {2}assertion {2}aud = issuer-or-token-endpoint$/m);
      expect(await exchange(base, `${base}/oauth/token`)).toBe(200);
    } finally {
      expect(await plain.stop()).toBe(0);
    }
  });

  it('serve records its mode, and the posture report reads it from the database', async () => {
    const assertionFinding = async () => {
      // The reader's environment says otherwise: what the server ran with wins.
      const res = await runCli(['admin', '--db', tmp.dbUrl, 'posture', '--json'], {
        env: { CLAVIS_ASSERTION_AUDIENCE: 'issuer-or-token-endpoint' },
      });
      expect(res.code, res.stderr).toBe(0);
      const { findings } = JSON.parse(res.stdout) as {
        findings: { id: string; severity: string; detail: string }[];
      };
      return findings.find((f) => f.id === 'assertion-audience-permissive');
    };
    const port = await freePort();
    const strict = await serveInProcess([
      '--db',
      tmp.dbUrl,
      '--port',
      String(port),
      '--assertion-audience',
      'issuer',
    ]);
    expect(await strict.stop()).toBe(0);
    expect(await assertionFinding()).toBeUndefined();
    const plain = await serveInProcess(['--db', tmp.dbUrl, '--port', String(port)]);
    expect(await plain.stop()).toBe(0);
    expect(await assertionFinding()).toMatchObject({
      severity: 'medium',
      detail:
        'the server was last started with assertion audience issuer-or-token-endpoint (1 private_key_jwt client)',
    });
  });

  it('a bad value, by flag or by environment, is one stderr line and a non-zero exit', async () => {
    const flag = await runCli(['serve', '--db', tmp.dbUrl, '--assertion-audience', 'token-endpoint'], {
      env: {},
    });
    expect(flag.code).not.toBe(0);
    expect(flag.stdout).toBe('');
    expect(lines(flag.stderr)).toHaveLength(1);
    expect(flag.stderr).toMatch(/--assertion-audience.*issuer or issuer-or-token-endpoint/);

    const env = await runCli(['serve', '--db', tmp.dbUrl, '--port', String(await freePort())], {
      env: { CLAVIS_ASSERTION_AUDIENCE: 'Issuer' },
    });
    expect(env.code).not.toBe(0);
    expect(env.stdout).toBe('');
    expect(env.stderr).toBe(
      'clavis: CLAVIS_ASSERTION_AUDIENCE: must be issuer or issuer-or-token-endpoint\n',
    );
  });
});
