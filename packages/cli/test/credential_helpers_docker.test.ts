import { describe, expect, it } from 'vitest';
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
