/**
 * Creating, listing, showing and deleting federations through the admin module: every operator error
 * is an `AdminError` that changes nothing; every change commits with its audit record.
 */
import { AdminError, adminFederations, type Client, federationView } from '@clavis/server';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../../../test/support/dialects.js';
import { createTestServer, ISSUER, type TestServer } from '../../../../test/support/test_server.js';
import { auditRows, createFederation, federationDeps } from './support.js';

describe.each(dialects)('admin federations (%s)', (dialect) => {
  let server: TestServer;
  let svc: Client;

  beforeAll(async () => {
    server = await createTestServer(dialect);
    svc = (await server.createClient({ name: 'svc', scopes: ['read', 'deploy'] })).client;
  });
  afterAll(() => server?.close());

  const base = (): adminFederations.CreateFederationInput => ({
    clientId: svc.id,
    preset: 'github-actions',
    audience: ISSUER,
    conditions: [{ claim: 'repository', pattern: 'acme/app' }],
  });

  async function rowCount(): Promise<number> {
    const rows = await server.services.db.selectFrom('federations').select('id').execute();
    return rows.length;
  }

  it('a preset fills the fixed issuer; defaults: the client ceiling, 15 minutes, discovery', async () => {
    const f = await createFederation(server, base());
    expect(f.id).toMatch(/^fed_[A-Za-z0-9_-]+$/);
    expect(federationView(f)).toMatchObject({
      id: f.id,
      client_id: svc.id,
      issuer: 'https://token.actions.githubusercontent.com',
      audience: ISSUER,
      conditions: [{ claim: 'repository', pattern: 'acme/app' }],
      key_source: 'discovery',
      scopes: ['read', 'deploy'],
      max_ttl: 900,
      preset: 'github-actions',
      created_by: 'test',
      disabled_at: null,
    });
    const audit = (await auditRows(server, 'federation.create')).at(-1);
    expect(audit?.client_id).toBe(svc.id);
    expect(audit?.detail).toMatchObject({ id: f.id, issuer: 'https://token.actions.githubusercontent.com' });

    const shown = await adminFederations.showFederation(federationDeps(server), f.id);
    expect(shown).toEqual(f);
    const listed = await adminFederations.listFederations(federationDeps(server));
    expect(listed.map((x) => x.id)).toContain(f.id);
  });

  it("the GitLab and Buildkite presets fill their issuers; GitHub's issuer gets GitHub's rules without --preset", async () => {
    const gl = await createFederation(server, {
      ...base(),
      preset: 'gitlab-ci',
      conditions: [{ claim: 'project_path', pattern: 'acme/app' }],
    });
    expect(gl.issuer).toBe('https://gitlab.com');
    const bk = await createFederation(server, {
      ...base(),
      preset: 'buildkite',
      conditions: [
        { claim: 'organization_slug', pattern: 'acme' },
        { claim: 'pipeline_slug', pattern: 'deploy' },
      ],
    });
    expect(bk.issuer).toBe('https://agent.buildkite.com');
    const implicit = await createFederation(server, {
      clientId: svc.id,
      issuer: 'https://token.actions.githubusercontent.com',
      audience: ISSUER,
      conditions: [{ claim: 'repository', pattern: 'acme/app' }],
    });
    expect(implicit.preset).toBe('github-actions');
    await expect(
      createFederation(server, {
        clientId: svc.id,
        issuer: 'https://token.actions.githubusercontent.com',
        audience: ISSUER,
        conditions: [{ claim: 'sub', pattern: 'repo:acme/*' }],
      }),
    ).rejects.toThrow(/sub pattern/);
  });

  it.each<
    [string, (i: adminFederations.CreateFederationInput) => adminFederations.CreateFederationInput, RegExp]
  >([
    ['an unknown preset', (i) => ({ ...i, preset: 'jenkins' }), /unknown preset/],
    ['kubernetes without --issuer', (i) => ({ ...i, preset: 'kubernetes' }), /needs --issuer/],
    ['no issuer and no preset', (i) => ({ ...i, preset: undefined }), /issuer is required/],
    ['an http issuer off loopback', (i) => ({ ...i, issuer: 'http://ci.example.com' }), /https/],
    ['an empty audience', (i) => ({ ...i, audience: '' }), /audience/],
    ['an audience with a space', (i) => ({ ...i, audience: 'a b' }), /audience/],
    ['an unknown client', (i) => ({ ...i, clientId: 'svc_nobody' }), /no client/],
    ['a scope outside the client ceiling', (i) => ({ ...i, scopes: ['admin'] }), /outside the client/],
    ['a malformed scope', (i) => ({ ...i, scopes: ['a b'] }), /not a valid scope/],
    ['a lifetime above the server maximum', (i) => ({ ...i, maxTtlSeconds: 7200 }), /lifetime/],
    ['a lifetime under 30 s', (i) => ({ ...i, maxTtlSeconds: 5 }), /lifetime/],
    ['a fractional lifetime', (i) => ({ ...i, maxTtlSeconds: 60.5 }), /lifetime/],
    [
      'both a JWKS and a jwks_uri',
      (i) => ({ ...i, jwks: { keys: [] }, jwksUri: 'https://k.test/jwks' }),
      /either/,
    ],
    ['an http jwks_uri off loopback', (i) => ({ ...i, jwksUri: 'http://keys.example.com/jwks' }), /https/],
    ['a JWKS that is not one', (i) => ({ ...i, jwks: 'keys' }), /JWKS/],
    ['a name with a newline', (i) => ({ ...i, name: 'a\nb' }), /name/],
    ['no conditions', (i) => ({ ...i, conditions: [] }), /condition/],
  ])('refuses %s, and stores nothing', async (_label, change, message) => {
    const before = await rowCount();
    const audits = await auditRows(server, 'federation.create');
    const err = await createFederation(server, change(base())).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdminError);
    expect((err as AdminError).code).toBe('invalid_input');
    expect((err as Error).message).toMatch(message);
    expect(await rowCount()).toBe(before);
    // Refused: nothing stored, and the refusal recorded as a failure with its reason.
    const after = await auditRows(server, 'federation.create');
    expect(after.length).toBe(audits.length + 1);
    expect(after.at(-1)).toMatchObject({ outcome: 'failure', detail: { reason: 'invalid_input' } });
  });

  it('a repository wildcard needs allowOrgWide, which the audit record notes', async () => {
    const orgWide = { ...base(), conditions: [{ claim: 'repository', pattern: 'acme/*' }] };
    const before = await rowCount();
    const err = await createFederation(server, orgWide).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdminError);
    expect((err as Error).message).toMatch(/trusts every repository it matches.*--allow-org-wide/);
    expect(await rowCount()).toBe(before);

    const f = await createFederation(server, { ...orgWide, allowOrgWide: true });
    expect(f.conditions).toEqual([{ claim: 'repository', pattern: 'acme/*' }]);
    const audit = (await auditRows(server, 'federation.create')).at(-1);
    expect(audit?.detail).toMatchObject({ id: f.id, allow_org_wide: true });
  });

  it('federationWarnings: a policy pinning no ref, environment or workflow gets one', async () => {
    const open = await createFederation(server, base());
    expect(adminFederations.federationWarnings(open)).toEqual([
      'no condition on ref, environment, job_workflow_ref (or a sub naming one): every branch, tag and pull-request run is trusted',
    ]);
    const narrowed = await createFederation(server, {
      ...base(),
      conditions: [
        { claim: 'repository', pattern: 'acme/app' },
        { claim: 'environment', pattern: 'prod' },
      ],
    });
    expect(adminFederations.federationWarnings(narrowed)).toEqual([]);
  });

  it('refuses a public or disabled client as the principal', async () => {
    const pub = (await server.createClient({ name: 'pub', kind: 'public' })).client;
    await expect(createFederation(server, { ...base(), clientId: pub.id })).rejects.toThrow(/confidential/);
    const off = (await server.createClient({ name: 'off' })).client;
    await server.services.db
      .updateTable('clients')
      .set({ disabled_at: 1 })
      .where('id', '=', off.id)
      .execute();
    await expect(createFederation(server, { ...base(), clientId: off.id })).rejects.toThrow(/disabled/);
  });

  it('refuses an inline JWKS holding a private key', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    await expect(
      createFederation(server, { ...base(), jwks: { keys: [await exportJWK(privateKey)] } }),
    ).rejects.toThrow(/private/);
  });

  it('delete removes it with an audit record; an unknown id is not_found', async () => {
    const f = await createFederation(server, base());
    await adminFederations.deleteFederation(federationDeps(server), f.id, { type: 'admin', id: 'test' });
    await expect(adminFederations.showFederation(federationDeps(server), f.id)).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(
      adminFederations.deleteFederation(federationDeps(server), f.id, { type: 'admin', id: 'test' }),
    ).rejects.toMatchObject({ code: 'not_found' });
    const deletes = (await auditRows(server, 'federation.delete')).filter((d) => d.detail.id === f.id);
    expect(deletes.map((d) => [d.outcome, d.detail.reason])).toEqual([
      ['success', undefined],
      ['failure', 'not_found'],
    ]);
  });
  it('deleting the principal deletes its federations: a client later given the same id inherits none', async () => {
    const doomed = (await server.createClient({ name: 'doomed', id: 'svc-doomed', scopes: ['read'] })).client;
    const f = await createFederation(server, { ...base(), clientId: doomed.id });
    const { adminClients } = await import('@clavis/server');
    await adminClients.deleteClient(
      { ...federationDeps(server), hasher: server.services.hasher, defaultAccessTokenTtlSeconds: 600 },
      doomed.id,
      { type: 'admin', id: 'test' },
    );
    await expect(adminFederations.showFederation(federationDeps(server), f.id)).rejects.toMatchObject({
      code: 'not_found',
    });
    await server.createClient({ name: 'reborn', id: 'svc-doomed', scopes: ['read'] });
    const left = await adminFederations.listFederations(federationDeps(server));
    expect(left.filter((x) => x.clientId === 'svc-doomed')).toEqual([]);
  });
});
