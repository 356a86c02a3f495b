/**
 * `clavis serve` as a real process: first start prints the issuer and a one-time admin password (once),
 * readiness at /readyz, structured logs on stdout that never hold a secret or a token, and a prompt,
 * clean exit on SIGTERM.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/support/free_port.js';
import { basic, INTROSPECTION_PATH, postForm, TOKEN_PATH } from '../../../test/support/oauth.js';
import { childEnv, runCli, type Scratch, scratch, startCli } from './support/cli.js';

type Started = ReturnType<typeof startCli>;

/** Waits until /readyz answers 200 (polling a readiness endpoint) and the banner has been written. */
async function ready(server: Started, base: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  let exited = false;
  void server.exited.then(() => {
    exited = true;
  });
  for (;;) {
    if (exited) throw new Error(`clavis serve exited early:\n${server.out.stderr}`);
    if (Date.now() > deadline) throw new Error(`clavis serve never became ready:\n${server.out.stderr}`);
    const status = await fetch(`${base}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200 && server.out.stderr.includes('Next steps:')) return;
    await delay(50);
  }
}

/** Sends SIGTERM and measures how long the process takes to exit. */
async function stop(server: Started): Promise<{ code: number | null; signal: string | null; ms: number }> {
  const start = Date.now();
  server.child.kill('SIGTERM');
  const { code, signal } = await server.exited;
  return { code, signal, ms: Date.now() - start };
}

describe('clavis serve', () => {
  let tmp: Scratch;
  let port: number;
  let base: string;
  const running: Started[] = [];

  const serve = (env: Record<string, string> = childEnv()) => {
    const s = startCli(['serve', '--db', tmp.dbUrl, '--port', String(port)], env);
    running.push(s);
    return s;
  };

  beforeAll(async () => {
    tmp = scratch();
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
  });
  afterEach(async () => {
    // Only the processes this test started, by their handle; normally they have exited already.
    for (const s of running.splice(0)) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        s.child.kill('SIGKILL');
        await s.exited;
      }
    }
  });
  afterAll(() => tmp.remove());

  it('first start: prints the issuer and a one-time password; no secret or token in the logs; SIGTERM exits 0', async () => {
    const env = childEnv();
    expect(env).not.toHaveProperty('CLAVIS_ADMIN_PASSWORD');
    const server = serve(env);
    await ready(server, base);

    const err = server.out.stderr;
    expect(err).toContain(`Clavis is running at ${base}`);
    expect(err).toMatch(new RegExp(`^  issuer     ${base.replace(/\./g, '\\.')}$`, 'm'));
    expect(err).toContain('First start: created the admin user and the built-in public client "clavis-cli".');
    const password = /^ {2}admin one-time password: (\S+)$/m.exec(err)?.[1];
    expect(password).toBeDefined();
    expect(password?.length).toBeGreaterThanOrEqual(16);
    // Every next step runs the CLI through npm with --silent, so `--json > file` stays valid JSON.
    const runs = err.split('\n').filter((line) => / admin --db /.test(line));
    expect(runs.length).toBeGreaterThan(0);
    for (const line of runs) expect(line.trim()).toMatch(/^npm run --silent clavis -- admin /);

    // Discovery names the issuer the banner printed.
    const metadata = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as {
      issuer: string;
    };
    expect(metadata.issuer).toBe(base);

    // A client made with the CLI against the same database, while the server runs, gets a token.
    const created = await runCli([
      'admin',
      '--db',
      tmp.dbUrl,
      'clients',
      'create',
      '--name',
      'svc',
      '--kind',
      'confidential',
      '--scope',
      'read',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const { client_id, client_secret } = JSON.parse(created.stdout) as {
      client_id: string;
      client_secret: string;
    };
    const basicAuth = basic(client_id, client_secret);
    const tokenResponse = await postForm(base, TOKEN_PATH, 'grant_type=client_credentials&scope=read', {
      authorization: basicAuth,
    });
    expect(tokenResponse.status).toBe(200);
    const { access_token } = (await tokenResponse.json()) as { access_token: string };
    // A wrong secret (one character off) is refused, and must not reach the logs either.
    const wrongSecret = `${client_secret.slice(0, -1)}${client_secret.endsWith('A') ? 'B' : 'A'}`;
    const wrong = await postForm(base, TOKEN_PATH, {
      grant_type: 'client_credentials',
      client_id,
      client_secret: wrongSecret,
    });
    expect(wrong.status).toBe(401);
    const introspected = await postForm(
      base,
      INTROSPECTION_PATH,
      { token: access_token },
      { authorization: basicAuth },
    );
    expect(((await introspected.json()) as { active: boolean }).active).toBe(true);

    const stopped = await stop(server);
    expect(stopped).toMatchObject({ code: 0, signal: null });
    expect(stopped.ms).toBeLessThan(5000);

    // stdout is structured JSON logs, and nothing secret reached them.
    const logs = server.out.stdout.split('\n').filter(Boolean);
    expect(logs.length).toBeGreaterThan(0);
    for (const line of logs) expect(() => JSON.parse(line)).not.toThrow();
    expect(logs.some((line) => (JSON.parse(line) as { msg?: string }).msg === 'shutting down')).toBe(true);
    const everything = server.out.stdout;
    expect(everything).not.toContain(client_secret);
    expect(everything).not.toContain(client_secret.slice(5));
    expect(everything).not.toContain('clvs_');
    expect(everything).not.toContain(access_token);
    expect(everything).not.toContain(access_token.split('.')[2] ?? access_token);
    expect(everything).not.toContain('Basic ');
    expect(everything).not.toContain('Bearer ');
    expect(everything).not.toContain(password);
    expect(everything).not.toContain(wrongSecret.slice(5));
    // Nor did the secret or the token reach stderr.
    expect(server.out.stderr).not.toContain(client_secret);
    expect(server.out.stderr).not.toContain(access_token);
  });

  it('second start on the same database prints no password and exits 0 on SIGTERM', async () => {
    const server = serve();
    await ready(server, base);
    expect(server.out.stderr).toContain(`Clavis is running at ${base}`);
    expect(server.out.stderr).not.toContain('one-time password');
    expect(server.out.stderr).not.toContain('First start');
    const stopped = await stop(server);
    expect(stopped).toMatchObject({ code: 0, signal: null });
    expect(stopped.ms).toBeLessThan(5000);
  });

  it('after SIGTERM the port is released: a new start on it becomes ready at once', async () => {
    const server = serve();
    await ready(server, base);
    await stop(server);
    // The port is free again: a new listener can take it at once.
    const again = serve();
    await ready(again, base);
    expect((await stop(again)).code).toBe(0);
  });
});

describe('clavis serve with CLAVIS_ADMIN_PASSWORD set', () => {
  it('creates the admin on first start without printing a password', async () => {
    const tmp = scratch();
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = startCli(
      ['serve', '--db', tmp.dbUrl, '--port', String(port)],
      childEnv({ CLAVIS_ADMIN_PASSWORD: 'chosen-by-the-operator-123' }),
    );
    try {
      await ready(server, base);
      expect(server.out.stderr).toContain('First start: created the admin user');
      expect(server.out.stderr).not.toContain('one-time password');
      expect(server.out.stderr).not.toContain('chosen-by-the-operator-123');
      expect(server.out.stdout).not.toContain('chosen-by-the-operator-123');
      expect((await stop(server)).code).toBe(0);
    } finally {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
      tmp.remove();
    }
  });
});

describe('clavis serve that cannot start', () => {
  it('a port already in use: exit 1 with one stderr line', async () => {
    const tmp = scratch();
    const port = await freePort();
    const first = startCli(['serve', '--db', tmp.dbUrl, '--port', String(port)], childEnv());
    try {
      await ready(first, `http://127.0.0.1:${port}`);
      const second = startCli(['serve', '--db', tmp.dbUrl, '--port', String(port)], childEnv());
      const { code } = await second.exited;
      expect(code).toBe(1);
      expect(second.out.stdout).toBe('');
      expect(second.out.stderr).toBe('clavis: the port is already in use\n');
      expect((await stop(first)).code).toBe(0);
    } finally {
      if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL');
      tmp.remove();
    }
  });
});
