/**
 * Bad input to `clavis admin`: every case exits non-zero with exactly one line on stderr — `clavis: …`
 * from our handler, or commander's for argv it cannot parse, under the same `clavis: ` prefix — prints nothing on stdout, and
 * creates no client (nor a client.create audit record).
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, initDatabase, runCli, type Scratch, scratch } from './support/cli.js';

describe('bad input to clavis admin', () => {
  let tmp: Scratch;
  let files: Record<'notJson' | 'privateJwks' | 'emptyJwks' | 'publicJwks', string>;
  let privateD: string;

  beforeAll(async () => {
    tmp = scratch();
    await initDatabase(tmp.dbUrl);
    // Migrate the database first, so "no client created" is checked against a real, empty table.
    expect((await runCli(['admin', '--db', tmp.dbUrl, 'clients', 'list', '--json'])).stdout).toBe('[]\n');
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const privateJwk = privateKey.export({ format: 'jwk' });
    privateD = privateJwk.d ?? '';
    files = {
      notJson: join(tmp.dir, 'not.json'),
      privateJwks: join(tmp.dir, 'private.jwks.json'),
      emptyJwks: join(tmp.dir, 'empty.jwks.json'),
      publicJwks: join(tmp.dir, 'public.jwks.json'),
    };
    writeFileSync(files.notJson, '{"keys": [ this is not json');
    writeFileSync(files.privateJwks, JSON.stringify({ keys: [{ ...privateJwk, kid: 'k1' }] }));
    writeFileSync(files.emptyJwks, JSON.stringify({ keys: [] }));
    writeFileSync(
      files.publicJwks,
      JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1' }] }),
    );
  });
  afterAll(() => tmp.remove());

  const create = (...extra: string[]) => [
    'admin',
    '--db',
    tmp.dbUrl,
    'clients',
    'create',
    '--name',
    'X',
    '--kind',
    'confidential',
    ...extra,
  ];

  type Case = { name: string; argv: () => string[]; stderr: RegExp };
  const cases: Case[] = [
    { name: 'unknown top-level command', argv: () => ['bogus'], stderr: /^clavis: unknown command 'bogus'/ },
    {
      name: 'unknown subcommand (with commander’s suggestion on the same line)',
      argv: () => ['admin', '--db', tmp.dbUrl, 'clients', 'craete'],
      stderr: /^clavis: unknown command 'craete' \(Did you mean create\?\)$/,
    },
    {
      name: 'unknown option',
      argv: () => create('--bogus'),
      stderr: /^clavis: unknown option '--bogus'/,
    },
    {
      name: 'missing required --name',
      argv: () => ['admin', '--db', tmp.dbUrl, 'clients', 'create', '--kind', 'confidential'],
      stderr: /^clavis: required option '--name <name>' not specified$/,
    },
    {
      name: '--kind other',
      argv: () => ['admin', '--db', tmp.dbUrl, 'clients', 'create', '--name', 'X', '--kind', 'other'],
      stderr: /^clavis: --kind must be public or confidential$/,
    },
    {
      name: '--token-ttl 5x',
      argv: () => create('--token-ttl', '5x'),
      stderr: /^clavis: option '--token-ttl <duration>' argument '5x' is invalid\. /,
    },
    {
      name: '--token-ttl beyond the 1h maximum',
      argv: () => create('--token-ttl', '2h'),
      stderr: /^clavis: access-token lifetime must be between 30s and 3600s$/,
    },
    {
      name: '--grant unknown',
      argv: () => create('--grant', 'password'),
      stderr: /^clavis: unknown grant type "password"$/,
    },
    {
      name: '--scope that is not a scope token',
      argv: () => create('--scope', 'read"write'),
      stderr: /^clavis: scope "read"write" is not a valid scope token$/,
    },
    {
      name: '--auth-method unknown',
      argv: () => create('--auth-method', 'client_secret_jwt'),
      stderr: /^clavis: unknown auth method "client_secret_jwt"$/,
    },
    {
      name: '--jwks-file missing',
      argv: () => create('--jwks-file', join(tmp.dir, 'nope.json')),
      stderr: /^clavis: cannot read JWKS file .*nope\.json$/,
    },
    {
      name: '--jwks-file not JSON',
      argv: () => create('--jwks-file', files.notJson),
      stderr: /^clavis: JWKS file .*not\.json is not valid JSON$/,
    },
    {
      name: 'private_key_jwt without keys',
      argv: () => create('--auth-method', 'private_key_jwt'),
      stderr: /^clavis: private_key_jwt needs the client's public keys \(--jwks-file or --jwks-uri\)$/,
    },
    {
      name: 'a JWKS containing a private key ("d")',
      argv: () => create('--jwks-file', files.privateJwks),
      stderr: /^clavis: the JWKS contains private key material; register only public keys$/,
    },
    {
      name: 'an empty JWKS',
      argv: () => create('--jwks-file', files.emptyJwks),
      stderr: /^clavis: the JWKS must hold between 1 and 10 keys$/,
    },
    {
      name: 'keys given with a secret auth method',
      argv: () => create('--auth-method', 'client_secret_basic', '--jwks-file', files.publicJwks),
      stderr: /^clavis: keys are only used with --auth-method private_key_jwt$/,
    },
    {
      name: 'a jwks_uri over plain http to a remote host',
      argv: () => create('--jwks-uri', 'http://keys.example.com/jwks.json'),
      stderr: /^clavis: jwks_uri must be https$/,
    },
    {
      name: '--db garbage:',
      argv: () => ['admin', '--db', 'garbage:', 'clients', 'list'],
      stderr: /^clavis: database URL must start with sqlite: or postgres:\/\/$/,
    },
    {
      name: '--db postgres on an unreachable port',
      argv: () => [
        'admin',
        '--db',
        'postgres://127.0.0.1:1/x',
        'clients',
        'create',
        '--name',
        'X',
        '--kind',
        'confidential',
      ],
      stderr: /^clavis: cannot reach the database \(connection refused\)$/,
    },
    {
      name: '--db and --server both',
      argv: () => [
        'admin',
        '--db',
        `sqlite:${join(tmp.dir, 'clavis.db')}`,
        '--server',
        'https://as.example.com',
        'clients',
        'create',
        '--name',
        'X',
        '--kind',
        'confidential',
      ],
      stderr: /^clavis: give --db or --server, not both$/,
    },
  ];

  it.each(cases)(
    '$name: exit 1, one stderr line, nothing on stdout, no client created',
    async ({ argv, stderr }) => {
      const res = await runCli(argv(), { env: { CLAVIS_KEK_FILE: join(tmp.dir, 'clavis.kek') } });
      expect(res.code).toBe(1);
      expect(res.stdout).toBe('');
      expect(res.stderr.endsWith('\n')).toBe(true);
      const errLines = res.stderr.slice(0, -1).split('\n');
      expect(errLines).toHaveLength(1);
      expect(errLines[0]).toMatch(stderr);
      expect(countRows(tmp.dbPath, 'clients')).toBe(0);
      expect(countRows(tmp.dbPath, 'audit_events', "event = 'client.create' and outcome = 'success'")).toBe(
        0,
      );
    },
  );

  it('the error about a private key never echoes the key', async () => {
    const res = await runCli(create('--jwks-file', files.privateJwks));
    expect(res.code).toBe(1);
    expect(privateD.length).toBeGreaterThan(20);
    expect(res.stderr).not.toContain(privateD);
  });

  it('the public half of the same key is accepted (the refusal above is about "d", not the key)', async () => {
    const res = await runCli(create('--jwks-file', files.publicJwks, '--json'));
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({
      token_endpoint_auth_method: 'private_key_jwt',
      has_jwks: true,
    });
    expect(JSON.parse(res.stdout)).not.toHaveProperty('client_secret');
  });
});
