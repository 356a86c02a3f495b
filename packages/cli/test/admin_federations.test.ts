/**
 * `clavis admin --db URL federations create|list|show|delete`, in-process over a real SQLite file (and
 * a fresh PostgreSQL schema): --json output with the pinned `id`, presets filling issuers, and every
 * refusal one stderr line with a non-zero exit that stores nothing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dialects, type TestDatabase } from '../../../test/support/dialects.js';
import { initDatabase, lines, runCli, type Scratch, scratch, withSqlite } from './support/cli.js';

interface FederationJson {
  id: string;
  name: string;
  client_id: string;
  issuer: string;
  audience: string;
  conditions: Array<{ claim: string; pattern: string }>;
  key_source: string;
  scopes: string[];
  max_ttl: number;
  preset: string | null;
  warnings?: string[];
}

const AUDIENCE = 'https://clavis.example.com';

describe('federations on SQLite', () => {
  let tmp: Scratch;
  let clientId: string;
  const admin = (...args: string[]) => runCli(['admin', '--db', tmp.dbUrl, ...args]);
  const federationCount = () =>
    withSqlite(tmp.dbPath, (db) =>
      Number((db.prepare('select count(*) as n from federations').get() as { n: number }).n),
    );

  beforeAll(async () => {
    tmp = scratch();
    await initDatabase(tmp.dbUrl);
    const res = await admin(
      'clients',
      'create',
      '--name',
      'deployer',
      '--kind',
      'confidential',
      '--scope',
      'read',
      '--scope',
      'deploy',
      '--json',
    );
    expect(res.code).toBe(0);
    clientId = (JSON.parse(res.stdout) as { client_id: string }).client_id;
  });
  afterAll(() => tmp.remove());

  it('create --preset github-actions --claim repository=acme/app: the preset fills the issuer', async () => {
    const res = await admin(
      'federations',
      'create',
      '--client',
      clientId,
      '--preset',
      'github-actions',
      '--audience',
      AUDIENCE,
      '--claim',
      'repository=acme/app',
      '--claim',
      'ref=refs/heads/main',
      '--scope',
      'deploy',
      '--max-ttl',
      '5m',
      '--json',
    );
    expect(res).toMatchObject({ code: 0, stderr: '' });
    const body = JSON.parse(res.stdout) as FederationJson;
    expect(body).toMatchObject({
      id: expect.stringMatching(/^fed_/),
      client_id: clientId,
      issuer: 'https://token.actions.githubusercontent.com',
      audience: AUDIENCE,
      conditions: [
        { claim: 'repository', pattern: 'acme/app' },
        { claim: 'ref', pattern: 'refs/heads/main' },
      ],
      key_source: 'discovery',
      scopes: ['deploy'],
      max_ttl: 300,
      preset: 'github-actions',
    });

    const { warnings, ...view } = body;
    expect(warnings).toEqual([]);
    const shown = await admin('federations', 'show', body.id, '--json');
    expect(shown).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(shown.stdout)).toEqual(view);

    const listed = await admin('federations', 'list', '--json');
    expect((JSON.parse(listed.stdout) as FederationJson[]).map((f) => f.id)).toContain(body.id);

    const text = await admin('federations', 'list');
    expect(lines(text.stdout)[0]).toMatch(/^ID\s+CLIENT_ID\s+PRESET\s+ISSUER$/);
    const human = await admin('federations', 'show', body.id);
    expect(human.stdout).toContain('repository=acme/app ref=refs/heads/main');
  });

  it('a Kubernetes federation with --issuer and an inline --jwks-file', async () => {
    const { publicKey } = await generateKeyPair('ES256');
    const file = join(tmp.dir, 'cluster-jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
    const res = await admin(
      'federations',
      'create',
      '--client',
      clientId,
      '--preset',
      'kubernetes',
      '--issuer',
      'https://kubernetes.prod.acme.internal',
      '--audience',
      AUDIENCE,
      '--claim',
      'sub=system:serviceaccount:prod:deployer',
      '--jwks-file',
      file,
      '--json',
    );
    expect(res).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(res.stdout)).toMatchObject({
      key_source: 'inline',
      max_ttl: 900,
      scopes: ['read', 'deploy'],
    });
  });

  it('repository=acme/* trusts the whole organisation: refused without --allow-org-wide', async () => {
    const args = [
      'federations',
      'create',
      '--client',
      clientId,
      '--preset',
      'github-actions',
      '--audience',
      AUDIENCE,
      '--claim',
      'repository=acme/*',
      '--claim',
      'ref=refs/heads/main',
    ];
    const before = federationCount();
    const refused = await admin(...args, '--json');
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(lines(refused.stderr)).toEqual([
      'clavis: the repository pattern "acme/*" trusts every repository it matches, including new ones any member can create; name one exactly, or pass --allow-org-wide if that is meant',
    ]);
    expect(federationCount()).toBe(before);

    const allowed = await admin(...args, '--allow-org-wide', '--json');
    expect(allowed).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(allowed.stdout)).toMatchObject({
      conditions: [
        { claim: 'repository', pattern: 'acme/*' },
        { claim: 'ref', pattern: 'refs/heads/main' },
      ],
      warnings: [],
    });
  });

  it.each([
    ['GitLab project_path=group/*', 'gitlab-ci', 'project_path=acme/*', /project_path pattern "acme\/\*"/],
  ])('%s is refused without --allow-org-wide', async (_label, preset, claim, message) => {
    const res = await admin(
      'federations',
      'create',
      '--client',
      clientId,
      '--preset',
      preset,
      '--audience',
      AUDIENCE,
      '--claim',
      claim,
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(message);
  });

  it('a policy pinning no ref, environment or workflow is created with a warning (stderr and --json)', async () => {
    const args = [
      'federations',
      'create',
      '--client',
      clientId,
      '--preset',
      'github-actions',
      '--audience',
      AUDIENCE,
      '--claim',
      'repository=acme/app',
    ];
    const warning =
      'no condition on ref, environment, job_workflow_ref (or a sub naming one): every branch, tag and pull-request run is trusted';
    const json = await admin(...args, '--json');
    expect(json.code).toBe(0);
    expect(lines(json.stderr)).toEqual([`Warning: ${warning}.`]);
    expect((JSON.parse(json.stdout) as FederationJson).warnings).toEqual([warning]);

    const text = await admin(...args);
    expect(text.code).toBe(0);
    expect(lines(text.stderr)).toEqual([`Warning: ${warning}.`]);
    expect(text.stdout).toContain('repository=acme/app');
  });

  it('delete removes it; deleting again is an error', async () => {
    const created = await admin(
      'federations',
      'create',
      '--client',
      clientId,
      '--preset',
      'gitlab-ci',
      '--audience',
      AUDIENCE,
      '--claim',
      'project_path=acme/app',
      '--json',
    );
    const { id } = JSON.parse(created.stdout) as FederationJson;
    const deleted = await admin('federations', 'delete', id, '--yes', '--json');
    expect(deleted).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(deleted.stdout)).toEqual({ id, deleted: true });
    const again = await admin('federations', 'delete', id, '--yes');
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`clavis: no federation ${id}\n`);
    const show = await admin('federations', 'show', 'fed_nothing');
    expect(show).toMatchObject({ code: 1, stdout: '', stderr: 'clavis: no federation fed_nothing\n' });
  });

  it.each([
    ['TE-03: sub=repo:acme/*', ['--preset', 'github-actions', '--claim', 'sub=repo:acme/*'], /sub pattern/],
    [
      'a whole organisation',
      ['--preset', 'github-actions', '--claim', 'repository_owner=acme'],
      /pin the subject/,
    ],
    ['no condition', ['--preset', 'github-actions'], /at least one claim condition/],
    ['a malformed --claim', ['--preset', 'github-actions', '--claim', 'repository'], /CLAIM=PATTERN/],
    ['an http issuer', ['--issuer', 'http://ci.example.com', '--claim', 'sub=x'], /https/],
    [
      'kubernetes without --issuer',
      ['--preset', 'kubernetes', '--claim', 'sub=system:serviceaccount:a:b'],
      /needs --issuer/,
    ],
    ['an unknown preset', ['--preset', 'jenkins', '--claim', 'sub=x'], /unknown preset/],
    [
      'a scope beyond the client',
      ['--preset', 'github-actions', '--claim', 'repository=acme/app', '--scope', 'admin'],
      /outside/,
    ],
    [
      'a bad --max-ttl',
      ['--preset', 'github-actions', '--claim', 'repository=acme/app', '--max-ttl', 'soon'],
      /max-ttl|duration/i,
    ],
    [
      'a --max-ttl above 1h',
      ['--preset', 'github-actions', '--claim', 'repository=acme/app', '--max-ttl', '2h'],
      /lifetime/,
    ],
    [
      'a missing JWKS file',
      [
        '--preset',
        'github-actions',
        '--claim',
        'repository=acme/app',
        '--jwks-file',
        '/nonexistent/jwks.json',
      ],
      /cannot read/,
    ],
    [
      'both --jwks-file and --jwks-uri',
      [
        '--preset',
        'github-actions',
        '--claim',
        'repository=acme/app',
        '--jwks-file',
        'a',
        '--jwks-uri',
        'https://k.test',
      ],
      /either/,
    ],
  ])('refuses %s: one stderr line, exit 1, nothing stored', async (_label, args, message) => {
    const before = federationCount();
    const res = await admin(
      'federations',
      'create',
      '--client',
      clientId,
      '--audience',
      AUDIENCE,
      ...args,
      '--json',
    );
    expect(res.code).not.toBe(0);
    expect(res.stdout).toBe('');
    expect(lines(res.stderr)).toHaveLength(1);
    // Every error, ours or commander's, reads `clavis: …`.
    expect(res.stderr).toMatch(/^clavis: /);
    expect(res.stderr).toMatch(message);
    expect(federationCount()).toBe(before);
  });

  it('refuses an unknown client', async () => {
    const res = await admin(
      'federations',
      'create',
      '--client',
      'svc_nobody',
      '--preset',
      'github-actions',
      '--audience',
      AUDIENCE,
      '--claim',
      'repository=acme/app',
    );
    expect(res).toMatchObject({ code: 1, stdout: '', stderr: 'clavis: no client svc_nobody\n' });
  });

  it('refuses a JWKS file holding a private key, without echoing it', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = await exportJWK(privateKey);
    const file = join(tmp.dir, 'private.json');
    writeFileSync(file, JSON.stringify({ keys: [jwk] }));
    const res = await admin(
      'federations',
      'create',
      '--client',
      clientId,
      '--preset',
      'kubernetes',
      '--issuer',
      'https://k8s.test',
      '--audience',
      AUDIENCE,
      '--claim',
      'sub=system:serviceaccount:a:b',
      '--jwks-file',
      file,
    );
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/private key material/);
    expect(res.stderr).not.toContain(jwk.d as string);
  });
});

describe.skipIf(!dialects.includes('postgres'))('federations on PostgreSQL (a fresh schema)', () => {
  let database: TestDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createTestDatabase('postgres');
    env = { CLAVIS_KEK_FILE: join(database.dir, 'clavis.kek') };
    await initDatabase(database.url, env);
  });
  afterAll(() => database.drop());

  it('creates, lists and deletes a federation', async () => {
    const admin = (...args: string[]) => runCli(['admin', '--db', database.url, ...args], { env });
    const client = await admin(
      'clients',
      'create',
      '--name',
      'pg',
      '--kind',
      'confidential',
      '--scope',
      'read',
      '--json',
    );
    const clientId = (JSON.parse(client.stdout) as { client_id: string }).client_id;
    const created = await admin(
      'federations',
      'create',
      '--client',
      clientId,
      '--preset',
      'buildkite',
      '--audience',
      AUDIENCE,
      '--claim',
      'organization_slug=acme',
      '--claim',
      'pipeline_slug=deploy',
      '--claim',
      'build_branch=main',
      '--json',
    );
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const body = JSON.parse(created.stdout) as FederationJson;
    expect(body.issuer).toBe('https://agent.buildkite.com');
    const list = await admin('federations', 'list', '--json');
    expect((JSON.parse(list.stdout) as FederationJson[]).map((f) => f.id)).toEqual([body.id]);
    expect((await admin('federations', 'delete', body.id, '--yes')).code).toBe(0);
    expect(JSON.parse((await admin('federations', 'list', '--json')).stdout)).toEqual([]);
  });
});
