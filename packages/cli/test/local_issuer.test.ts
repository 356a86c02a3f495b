/**
 * examples/local-issuer.mjs, the README's stand-in for a CI platform: its tokens are exchanged by a real
 * server under a federation that finds the keys by OIDC discovery at the issuer it serves (the README
 * itself covers the inline-JWKS way), once per token; its bad input is one line on stderr and exit 1.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/free_port.js';
import { childEnv, NODE, runCli, type Scratch, scratch, startCli } from './support/cli.js';

const SCRIPT = fileURLToPath(new URL('../../../examples/local-issuer.mjs', import.meta.url));
const EXCHANGE = {
  grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
  subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
};

function issuerScript(...args: string[]) {
  const result = spawnSync(NODE, [SCRIPT, ...args], { encoding: 'utf8', env: childEnv() });
  return { code: result.status, stdout: result.stdout.trim(), stderr: result.stderr };
}

async function waitFor(url: string, what: string, output: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await fetch(url).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${what} never answered ${url}:\n${output()}`);
    await delay(100);
  }
}

describe('examples/local-issuer.mjs', () => {
  let tmp: Scratch;
  let server: ReturnType<typeof startCli>;
  let issuerProcess: ChildProcess;
  let base: string;
  let localIssuer: string;

  beforeAll(async () => {
    tmp = scratch();
    base = `http://127.0.0.1:${await freePort()}`;
    server = startCli(['serve', '--db', tmp.dbUrl, '--port', new URL(base).port]);
    localIssuer = `http://127.0.0.1:${await freePort()}`;
    expect(issuerScript('init', tmp.dir, '--issuer', localIssuer)).toMatchObject({
      code: 0,
      stdout: localIssuer,
    });
    issuerProcess = spawn(NODE, [SCRIPT, 'serve', tmp.dir], { stdio: 'ignore', env: childEnv() });
    await waitFor(`${base}/readyz`, 'clavis serve', () => server.out.stderr);
    await waitFor(`${localIssuer}/.well-known/openid-configuration`, 'the local issuer', () => '');
  });

  afterAll(async () => {
    issuerProcess?.kill('SIGTERM');
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    tmp?.remove();
  });

  const exchange = (token: string) =>
    fetch(`${base}/oauth/token`, {
      method: 'POST',
      body: new URLSearchParams({ ...EXCHANGE, subject_token: token }),
    });

  it('its tokens are exchanged once under a federation that found its keys by discovery', async () => {
    const created = await runCli(
      [
        'admin',
        '--db',
        tmp.dbUrl,
        'clients',
        'create',
        '--name',
        'deployer',
        '--kind',
        'confidential',
      ].concat(['--scope', 'deploy', '--json']),
    );
    expect(created.code).toBe(0);
    const { client_id } = JSON.parse(created.stdout) as { client_id: string };
    const federation = await runCli(
      [
        'admin',
        '--db',
        tmp.dbUrl,
        'federations',
        'create',
        '--client',
        client_id,
        '--issuer',
        localIssuer,
      ].concat(['--audience', base, '--claim', 'sub=job:deploy', '--scope', 'deploy', '--json']),
    );
    expect(federation.code, federation.stderr).toBe(0);
    expect(JSON.parse(federation.stdout)).toMatchObject({ issuer: localIssuer });

    const token = issuerScript('token', tmp.dir, '--aud', base, '--sub', 'job:deploy', '--claim', 'run_id=7');
    expect(token.code).toBe(0);
    const first = await exchange(token.stdout);
    expect(first.status).toBe(200);
    const body = (await first.json()) as { scope: string; access_token: string };
    expect(body.scope).toBe('deploy');

    const again = await exchange(token.stdout);
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_request' });

    // A subject the policy does not name is refused.
    const other = issuerScript('token', tmp.dir, '--aud', base, '--sub', 'job:other');
    const refused = await exchange(other.stdout);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('bad input: one line on stderr and exit 1, nothing printed on stdout', () => {
    for (const args of [
      [],
      ['mint', tmp.dir],
      ['token', tmp.dir, '--aud', base],
      ['token', tmp.dir, '--aud', base, '--sub', 's', '--claim', 'no-equals-sign'],
      ['token', tmp.dir, '--aud', base, '--sub', 's', '--ttl', '99999'],
      ['token', tmp.dir, '--aud'],
      ['init', tmp.dir, '--issuer', 'not a url'],
      ['init', tmp.dir, '--issuer', 'ftp://x.test'],
      ['init', tmp.dir, '--other', 'x'],
    ]) {
      const result = issuerScript(...args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^local-issuer: .+\nusage: /);
    }
  });
});
