import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  answerDockerCredential,
  type DockerHelperDeps,
  dockerRegistryHost,
  parseDockerServerUrl,
  parseDockerStoreInput,
} from '../src/credential_helpers/docker.js';

const token = 'clv_at_0123456789abcdef';
const deps: DockerHelperDeps = {
  registries: [
    { registry: 'registry.example.test', username: 'clavis' },
    { registry: 'https://Images.Example.test:5000', username: 'oauth2' },
  ],
  getToken: async () => ({ token }),
};

describe('get', () => {
  // docker's client writes the bare server URL, no newline (client.Get: strings.NewReader(serverURL)).
  it.each([
    ['registry.example.test', 'clavis'],
    ['https://registry.example.test', 'clavis'],
    ['https://registry.example.test/v1/', 'clavis'],
    ['registry.example.test:443', 'clavis'],
    ['images.example.test:5000', 'oauth2'],
  ])('answers %s with the token', async (serverUrl, username) => {
    const result = await answerDockerCredential('get', serverUrl, deps);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.endsWith('\n')).toBe(true);
    expect(JSON.parse(result.stdout)).toEqual({ ServerURL: serverUrl, Username: username, Secret: token });
  });

  it('takes a server URL across lines and with blanks, as the Go library does', async () => {
    const result = await answerDockerCredential('get', '  registry.exa\nmple.test \r\n', deps);
    expect(JSON.parse(result.stdout)).toMatchObject({ ServerURL: 'registry.example.test', Secret: token });
  });

  it.each([
    'other.example.test',
    'evilregistry.example.test',
    'registry.example.test.evil.test',
    'images.example.test',
    'http://registry.example.test',
    'ftp://registry.example.test',
    'https://',
  ])('says not found, in the library message, for %s', async (serverUrl) => {
    expect(await answerDockerCredential('get', serverUrl, deps)).toEqual({
      stdout: 'credentials not found in native keychain\n',
      exitCode: 1,
    });
  });

  it('says not found when there is no token', async () => {
    const loggedOut = { ...deps, getToken: async () => undefined };
    expect(await answerDockerCredential('get', 'registry.example.test', loggedOut)).toEqual({
      stdout: 'credentials not found in native keychain\n',
      exitCode: 1,
    });
  });

  it('says the server URL is missing for empty input', async () => {
    for (const input of ['', '  \n']) {
      expect(await answerDockerCredential('get', input, deps)).toEqual({
        stdout: 'no credentials server URL\n',
        exitCode: 1,
      });
    }
  });
});

describe('store, erase, list', () => {
  // docker's client writes json.Encoder output: one JSON line.
  const stored = `${JSON.stringify({ ServerURL: 'https://registry.example.test/v1/', Username: 'foo', Secret: 'bar' })}\n`;

  it('accepts a valid store and keeps nothing', async () => {
    let asked = 0;
    const counting = { ...deps, getToken: async () => ({ token: `${++asked}` }) };
    expect(await answerDockerCredential('store', stored, counting)).toEqual({ stdout: '', exitCode: 0 });
    expect(asked).toBe(0);
    expect(parseDockerStoreInput(stored)).toEqual({
      ServerURL: 'https://registry.example.test/v1/',
      Username: 'foo',
      Secret: 'bar',
    });
  });

  it.each([
    ['no ServerURL', { Username: 'foo', Secret: 'bar' }, 'no credentials server URL'],
    ['an empty ServerURL', { ServerURL: '', Username: 'foo', Secret: 'bar' }, 'no credentials server URL'],
    ['no Username', { ServerURL: 'r.test', Secret: 'bar' }, 'no credentials username'],
    ['a number for Username', { ServerURL: 'r.test', Username: 7 }, 'Username is not a string'],
  ])('refuses a store with %s, in the library message', async (_name, body, message) => {
    expect(await answerDockerCredential('store', JSON.stringify(body), deps)).toEqual({
      stdout: `${message}\n`,
      exitCode: 1,
    });
  });

  it.each(['not json', '[]', 'null', '"registry"', '{"ServerURL":'])(
    'refuses store input %j',
    async (input) => {
      const result = await answerDockerCredential('store', input, deps);
      expect(result.exitCode).toBe(1);
      expect(result.stdout).toMatch(/^store input is not (JSON|a JSON object)\n$/);
    },
  );

  it('erases nothing, and wants a server URL', async () => {
    expect(await answerDockerCredential('erase', 'registry.example.test', deps)).toEqual({
      stdout: '',
      exitCode: 0,
    });
    expect(await answerDockerCredential('erase', '', deps)).toEqual({
      stdout: 'no credentials server URL\n',
      exitCode: 1,
    });
  });

  it('lists the configured registries with their usernames', async () => {
    const result = await answerDockerCredential('list', 'unused', deps);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      'registry.example.test': 'clavis',
      'https://Images.Example.test:5000': 'oauth2',
    });
  });

  it('refuses an unknown action as the library does', async () => {
    expect(await answerDockerCredential('steal', '', deps)).toEqual({
      stdout: 'docker-credential-clavis: unknown action: steal\n',
      exitCode: 1,
    });
  });
});

describe('parsing', () => {
  it('reads registries as docker registryurl.Parse does', () => {
    expect(dockerRegistryHost('Registry.Example.test')).toBe('registry.example.test');
    expect(dockerRegistryHost('//registry.example.test:5000/path?q=1')).toBe('registry.example.test:5000');
    expect(dockerRegistryHost('https://index.docker.io/v1/')).toBe('index.docker.io');
    expect(() => dockerRegistryHost('ftp://registry.example.test')).toThrow(
      expect.objectContaining({ code: 'invalid_url' }),
    );
    expect(() => dockerRegistryHost('https://')).toThrow(expect.objectContaining({ code: 'invalid_url' }));
  });

  it('never puts a secret from the input into an error message', async () => {
    const result = await answerDockerCredential('store', '{"ServerURL":"r.test","Secret":"hunter2"}', deps);
    expect(result).toEqual({ stdout: 'no credentials username\n', exitCode: 1 });
    expect(() => parseDockerServerUrl('')).toThrow(expect.objectContaining({ code: 'missing_server_url' }));
  });
});

const distHelper = resolve(import.meta.dirname, '../dist/credential_helpers/docker.js');

describe('with the real docker client', () => {
  let dir: string;
  let registry: Server;
  let host: string;
  let otherHost: string;
  const seen: { url: string | undefined; authorization: string | undefined }[] = [];

  beforeAll(async () => {
    if (!existsSync(distHelper))
      throw new Error('build first (npm run build): the helper runs the built dist');
    dir = mkdtempSync(join(tmpdir(), 'clavis-docker-credential-'));
    // A registry that asks for Basic credentials and has no manifests: docker's client talks to it
    // directly (no engine needed) for `docker manifest inspect`.
    registry = createServer((request, response) => {
      seen.push({ url: request.url, authorization: request.headers.authorization });
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
    const { port } = registry.address() as AddressInfo;
    host = `localhost:${port}`;
    otherHost = `127.0.0.1:${port}`; // the same server under a name Clavis is not configured for
    mkdirSync(join(dir, 'bin'));
    writeFileSync(
      join(dir, 'helper.mjs'),
      `import { appendFileSync } from 'node:fs';
import { answerDockerCredential } from ${JSON.stringify(distHelper)};
import { readHelperInput } from ${JSON.stringify(resolve(distHelper, '../read_input.js'))};
const action = process.argv[2];
const input = await readHelperInput(process.stdin);
appendFileSync(${JSON.stringify(join(dir, 'calls.jsonl'))}, JSON.stringify({ action, input }) + '\\n');
const result = await answerDockerCredential(action, input, {
  registries: [{ registry: ${JSON.stringify(host)}, username: 'clavis' }],
  getToken: async () => ({ token: ${JSON.stringify(token)} }),
});
process.stdout.write(result.stdout);
process.exitCode = result.exitCode;
`,
    );
    const wrapper = join(dir, 'bin', 'docker-credential-clavis');
    writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${join(dir, 'helper.mjs')}' "$@"\n`);
    chmodSync(wrapper, 0o755);
    mkdirSync(join(dir, 'config'));
    writeFileSync(
      join(dir, 'config', 'config.json'),
      JSON.stringify({ credHelpers: { [host]: 'clavis', [otherHost]: 'clavis' } }),
    );
  });
  afterAll(async () => {
    await new Promise((done) => registry.close(done));
    rmSync(dir, { recursive: true, force: true });
  });

  const inspect = (image: string) =>
    new Promise<{ code: number; output: string }>((done) => {
      const env = {
        PATH: `${join(dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        HOME: dir,
        DOCKER_CONFIG: join(dir, 'config'),
      };
      execFile('docker', ['manifest', 'inspect', '--insecure', image], { env }, (error, stdout, stderr) => {
        done({ code: error ? Number(error.code ?? 1) : 0, output: stdout + stderr });
      });
    });

  it('docker gets the token from the helper for a configured registry and sends it', async () => {
    seen.length = 0;
    const result = await inspect(`${host}/team/app:1`);
    expect(result.output).toContain('no such manifest');
    const basic = `Basic ${Buffer.from(`clavis:${token}`).toString('base64')}`;
    expect(seen).toContainEqual({ url: '/v2/team/app/manifests/1', authorization: basic });
    const calls = readFileSync(join(dir, 'calls.jsonl'), 'utf8').trim().split('\n');
    expect(calls.map((line) => JSON.parse(line))).toContainEqual({ action: 'get', input: host });
  });

  it('docker gets "not found" for another registry and sends no credentials', async () => {
    seen.length = 0;
    const result = await inspect(`${otherHost}/team/app:1`);
    expect(result.code).not.toBe(0);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((request) => request.authorization === undefined)).toBe(true);
    expect(result.output).not.toContain(token);
  });
});
