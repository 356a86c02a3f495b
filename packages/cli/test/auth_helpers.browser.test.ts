/**
 * `clavis auth git-credential | docker-credential | kube-credential | setup-git` run by the real git,
 * docker and kubectl, handing out the real token of a person logged in (in Chromium) at a real server.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, NODE, spawnCli, startCli } from './support/cli.js';
import { type FakeKubeApi, startFakeKubeApi } from './support/kube_api.js';
import {
  chromiumAvailable,
  type Home,
  home,
  LINK,
  launchChromium,
  Person,
  startTestServer,
  type TestServer,
  waitFor,
} from './support/people.js';

const DOCKER_BIN = resolve(import.meta.dirname, '../bin/docker-credential-clavis.js');
const has = (command: string, args: string[]) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;

type Run = { code: number; stdout: string; stderr: string };
const run = (command: string, args: string[], env: Record<string, string>, input = '') =>
  new Promise<Run>((done) => {
    const child = execFile(command, args, { env }, (error, stdout, stderr) => {
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
    child.stdin?.end(input);
  });

describe.runIf(chromiumAvailable())('credential helpers with a real login', { timeout: 120_000 }, () => {
  let browser: Browser;
  let server: TestServer;
  let h: Home;
  let token: string;
  let serverHost: string;

  beforeAll(async () => {
    browser = await launchChromium();
    server = await startTestServer();
    serverHost = new URL(server.issuer).host;
    h = home();
    const person = new Person('helper', (await server.createUser('helper')).totpSecret);
    const login = startCli(['login', '--server', server.issuer], h.env);
    const [, link] = await waitFor(() => login.out.stderr, LINK);
    await person.approve(browser, link as string);
    expect((await login.exited).code).toBe(0);
    token = (await spawnCli(['token'], h.env)).stdout.trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    h?.remove();
  });

  describe('git', () => {
    let env: Record<string, string>;
    beforeAll(() => {
      env = {
        ...h.env,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: join(h.dir, 'gitconfig'),
        GIT_TERMINAL_PROMPT: '0',
      };
      writeFileSync(
        env.GIT_CONFIG_GLOBAL as string,
        `[credential "https://git.example.test"]\n\thelper = !'${NODE}' '${BIN}' auth git-credential --host git.example.test --username oauth2\n` +
          `[credential "https://${serverHost}"]\n\thelper = !'${NODE}' '${BIN}' auth git-credential\n`,
      );
    });

    it('git credential fill gets the person token for a configured host', async () => {
      const result = await run(
        'git',
        ['credential', 'fill'],
        env,
        'url=https://git.example.test/org/repo.git\n\n',
      );
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`username=oauth2\npassword=${token}\n`);
      // git ≥ 2.41 passes the expiry on (2.39 drops it): the helper itself writes it.
      const direct = await run(
        NODE,
        [BIN, 'auth', 'git-credential', 'get', '--host', 'git.example.test'],
        h.env,
        'protocol=https\nhost=git.example.test\n\n',
      );
      const expiry = Number(direct.stdout.match(/^password_expiry_utc=(\d+)$/m)?.[1]);
      expect(expiry * 1000).toBeGreaterThan(Date.now());
    });

    it("without --host the remembered server's host gets it, and nothing else does", async () => {
      const own = await run('git', ['credential', 'fill'], env, `protocol=https\nhost=${serverHost}\n\n`);
      expect(own.stdout).toContain(`username=clavis\npassword=${token}\n`);
      for (const url of ['http://git.example.test/x.git', 'https://other.example.test/x.git']) {
        const other = await run('git', ['credential', 'fill'], env, `url=${url}\n\n`);
        expect(other.code).not.toBe(0); // no helper answered and prompting is off
        expect(other.stdout + other.stderr).not.toContain(token);
      }
    });

    it('approve and reject are accepted and keep nothing', async () => {
      const credential = `protocol=https\nhost=git.example.test\nusername=oauth2\npassword=${token}\n\n`;
      expect((await run('git', ['credential', 'approve'], env, credential)).code).toBe(0);
      expect((await run('git', ['credential', 'reject'], env, credential)).code).toBe(0);
      const still = await run('git', ['credential', 'fill'], env, 'url=https://git.example.test/x.git\n\n');
      expect(still.stdout).toContain(`password=${token}`);
    });

    it('oversized or malformed input is one line on stderr, no token', async () => {
      const big = await spawnCli(['auth', 'git-credential', 'get'], h.env); // stdin ignored: empty input
      expect(big.code).toBe(0);
      const malformed = await run(NODE, [BIN, 'auth', 'git-credential', 'get'], h.env, 'no equals sign\n');
      expect(malformed.code).toBe(1);
      expect(malformed.stdout).toBe('');
      expect(malformed.stderr).toBe('clavis: line 1 is not key=value\n');
      const huge = await run(NODE, [BIN, 'auth', 'git-credential', 'get'], h.env, 'a'.repeat(70_000));
      expect(huge.code).toBe(1);
      expect(huge.stderr).toMatch(/^clavis: input exceeds \d+ bytes\n$/);
    });

    it('setup-git configures the helper for a host, replacing what was there', async () => {
      const setupEnv = { ...env, GIT_CONFIG_GLOBAL: join(h.dir, 'gitconfig-setup') };
      writeFileSync(setupEnv.GIT_CONFIG_GLOBAL, '');
      for (let i = 0; i < 2; i++) {
        const setup = await spawnCli(['auth', 'setup-git', '--host', 'code.example.test'], setupEnv);
        expect(setup.code).toBe(0);
      }
      const helpers = execFileSync(
        'git',
        ['config', '--global', '--get-all', 'credential.https://code.example.test.helper'],
        {
          env: setupEnv,
        },
      )
        .toString()
        .split('\n');
      expect(helpers.slice(0, 2)).toEqual(['', '!clavis auth git-credential --host code.example.test']);
      const bad = await spawnCli(['auth', 'setup-git', '--host', 'evil.test\n[core]'], setupEnv);
      expect(bad.code).toBe(1);
    });
  });

  describe.skipIf(!has('docker', ['--version']))('docker', () => {
    let registry: Server;
    let registryHost: string;
    let env: Record<string, string>;
    const seen: (string | undefined)[] = [];

    beforeAll(async () => {
      registry = createHttpServer((request, response) => {
        seen.push(request.headers.authorization);
        const headers = {
          'docker-distribution-api-version': 'registry/2.0',
          'content-type': 'application/json',
        };
        if (!request.headers.authorization) {
          response.writeHead(401, { ...headers, 'www-authenticate': 'Basic realm="clavis-test"' });
        } else {
          response.writeHead(request.url === '/v2/' ? 200 : 404, headers);
        }
        response.end('{}');
      });
      await new Promise<void>((done) => registry.listen(0, '127.0.0.1', done));
      registryHost = `localhost:${(registry.address() as AddressInfo).port}`;
      const bin = join(h.dir, 'bin');
      mkdirSync(bin, { recursive: true });
      const wrapper = join(bin, 'docker-credential-clavis');
      // What npm's bin link does: run the package's docker-credential-clavis.js.
      writeFileSync(wrapper, `#!/bin/sh\nexec '${NODE}' '${DOCKER_BIN}' "$@"\n`);
      chmodSync(wrapper, 0o755);
      mkdirSync(join(h.dir, 'docker'), { recursive: true });
      writeFileSync(
        join(h.dir, 'docker', 'config.json'),
        JSON.stringify({ credHelpers: { [registryHost]: 'clavis' } }),
      );
      env = {
        ...h.env,
        PATH: `${bin}:${h.env.PATH}`,
        DOCKER_CONFIG: join(h.dir, 'docker'),
        CLAVIS_DOCKER_REGISTRIES: registryHost,
      };
    });
    afterAll(async () => {
      await new Promise((done) => registry?.close(done));
    });

    it('docker gets the person token from docker-credential-clavis and sends it', async () => {
      const result = await run(
        'docker',
        ['manifest', 'inspect', '--insecure', `${registryHost}/team/app:1`],
        env,
      );
      expect(result.stdout + result.stderr).toContain('no such manifest');
      expect(seen).toContain(`Basic ${Buffer.from(`clavis:${token}`).toString('base64')}`);
    });

    it('the bin answers list, and "not found" for a registry not configured', async () => {
      const list = await run(NODE, [DOCKER_BIN, 'list'], env);
      expect(list).toMatchObject({ code: 0, stdout: `${JSON.stringify({ [registryHost]: 'clavis' })}\n` });
      const other = await run(NODE, [DOCKER_BIN, 'get'], env, 'other.example.test');
      expect(other).toMatchObject({
        code: 1,
        stdout: 'credentials not found in native keychain\n',
        stderr: '',
      });
    });
  });

  describe.skipIf(!has('kubectl', ['version', '--client']) || !has('openssl', ['version']))('kubectl', () => {
    let api: FakeKubeApi | undefined;

    beforeAll(async () => {
      api = await startFakeKubeApi(h.dir, {
        token: () => token,
        exec: {
          apiVersion: 'client.authentication.k8s.io/v1',
          command: NODE,
          args: [BIN, 'auth', 'kube-credential', '--server', server.issuer],
          interactiveMode: 'Never',
        },
      });
    });
    afterAll(async () => {
      await api?.close();
    });

    it('kubectl runs kube-credential and calls the cluster with the person token', async () => {
      const { kubeconfig, seen } = api as FakeKubeApi;
      const result = await run('kubectl', ['--kubeconfig', kubeconfig, 'get', '--raw', '/version'], h.env);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ gitVersion: 'v1.32.0-fake' });
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((authorization) => authorization === `Bearer ${token}`)).toBe(true);
    });

    it('without a login kube-credential fails with one line (kubectl shows it), exit 4', async () => {
      const empty = home();
      try {
        const result = await spawnCli(['auth', 'kube-credential', '--server', server.issuer], empty.env);
        expect(result.code).toBe(4);
        expect(result.stdout).toBe('');
        expect(result.stderr.trim().split('\n').at(-1)).toMatch(/^clavis: /);
        const malformed = await spawnCli(['auth', 'kube-credential'], {
          ...h.env,
          KUBERNETES_EXEC_INFO: '{',
        });
        expect(malformed).toMatchObject({
          code: 1,
          stdout: '',
          stderr: 'clavis: KUBERNETES_EXEC_INFO is not JSON\n',
        });
      } finally {
        empty.remove();
      }
    });
  });
});
