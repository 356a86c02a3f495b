/**
 * The admin operations on the database (`--db`): the server's use cases called in this process on the
 * services `openAdmin` opened, each answer turned into the view the command prints.
 */
import {
  AUDIT_PAGE_MAX,
  type AuditListOptions,
  adminApiKeys,
  adminClientSecrets,
  adminClients,
  adminFederations,
  adminIdps,
  adminKek,
  adminSigningKeys,
  adminUsers,
  adminViews,
  auditCursor,
  type Client,
  clientView,
  configDefaults,
  type Federation,
  federationView,
  listAuditPage,
  posture,
  verifyAuditLog,
} from '@clavis/server';
import { CliError } from '../../errors.js';
import type { Env } from '../../io.js';
import { apiKeySettings } from '../../settings.js';
import type { AdminContext } from './context.js';
import type {
  AdminOperations,
  ApiKeyView,
  AuditFilters,
  ClientView,
  FederationView,
  UserView,
} from './operations.js';

/** A view the server builds as a plain record, named with the shape operations.ts gives it. */
const viewAs = <T>(view: Record<string, unknown>): T => view as unknown as T;

const asClient = (client: Client): ClientView => clientView(client) as ClientView;
const asFederation = (federation: Federation): FederationView => federationView(federation) as FederationView;

function auditQuery(filters: AuditFilters): AuditListOptions {
  return {
    ...(filters.event ? { event: filters.event } : {}),
    ...(filters.clientId ? { clientId: filters.clientId } : {}),
    ...(filters.actor ? { actor: filters.actor } : {}),
    ...(filters.outcome ? { outcome: filters.outcome } : {}),
    ...(filters.since !== undefined ? { since: filters.since } : {}),
    ...(filters.until !== undefined ? { until: filters.until } : {}),
  };
}

export function localOperations(ctx: AdminContext, env: Env): AdminOperations {
  const { deps: admin, actor, services } = ctx;
  // The lifetime cap of API keys is the server's (CLAVIS_API_KEY_MAX_TTL or 90d).
  const keyDeps: adminApiKeys.ApiKeyAdminDeps = {
    db: admin.db,
    audit: admin.audit,
    hasher: admin.hasher,
    clock: admin.clock,
    apiKeyMaxTtlSeconds: apiKeySettings(env).apiKeyMaxTtlSeconds ?? configDefaults.apiKeyMaxTtlSeconds,
  };
  const idpDeps: adminIdps.IdpAdminDeps = { ...admin, idpSealKey: services.idpKeys.seal };
  const withWarnings = (federation: Federation) =>
    adminViews.federationWithWarningsJson(federation) as FederationView & { warnings: string[] };

  return {
    async createClient({ authMethod, ...input }) {
      const { client, secret } = await adminClients.createClient(
        admin,
        // The server checks the method; this only names its type.
        { ...input, ...(authMethod ? { authMethod: authMethod as Client['authMethod'] } : {}) },
        actor,
      );
      return adminViews.createdClientJson(client, secret) as ClientView & { client_secret?: string };
    },
    listClients: async () => (await adminClients.listClients(admin)).map(asClient),
    showClient: async (id) => asClient(await adminClients.showClient(admin, id)),
    updateClient: async (id, input) => asClient(await adminClients.updateClient(admin, id, input, actor)),
    deleteClient: (id) => adminClients.deleteClient(admin, id, actor),
    disableClient: async (id) => asClient(await adminClients.disableClient(admin, id, actor)),
    enableClient: async (id) => asClient(await adminClients.enableClient(admin, id, actor)),
    rotateClientSecret: async (id, input) =>
      adminViews.rotatedSecretJson(await adminClients.rotateClientSecret(admin, id, input, actor)),
    listClientSecrets: (id) => adminClientSecrets.listSecrets(admin, id),
    revokeClientSecret: async (id, secretId) =>
      adminViews.revokedSecretJson(id, await adminClientSecrets.revokeSecret(admin, id, secretId, actor)),

    createUser: async (input) =>
      viewAs<UserView & { password?: string; totp_secret?: string; totp_uri?: string }>(
        adminViews.createdUserJson(await adminUsers.createUser(admin, input, actor)),
      ),
    listUsers: () => adminUsers.listUsers(admin),
    showUser: (user) => adminUsers.showUserDetail(admin, user),
    disableUser: async (name) =>
      adminViews.disabledUserJson(await adminUsers.disableUser(admin, name, actor)),
    enableUser: (user) => adminUsers.enableUser(admin, user, actor),
    unlockUser: (user) => adminUsers.unlockUser(admin, user, actor),
    resetMfa: (user) => adminUsers.resetMfa(admin, user, actor),
    setPassword: async (name, input) =>
      adminViews.passwordSetJson(await adminUsers.setPassword(admin, name, input, actor)),
    setScopes: (user, scopes) => adminUsers.setScopes(admin, user, scopes, actor),
    listSessions: async (user) => (await adminUsers.listSessions(admin, user)).sessions,
    revokeSessions: async (name) =>
      adminViews.revokedSessionsJson(await adminUsers.revokeSessions(admin, name, actor)),

    async createKey(input) {
      const created = await adminApiKeys.createApiKey(keyDeps, input, actor);
      return viewAs<ApiKeyView & { key: string }>(adminViews.apiKeyJson(created.key, created.plaintext));
    },
    listKeys: (input) => adminApiKeys.listApiKeys(keyDeps, input),
    showKey: (id) => adminApiKeys.showApiKey(keyDeps, id),
    updateKey: (id, input) => adminApiKeys.updateApiKey(keyDeps, id, input, actor),
    rotateKey: async (id, input) =>
      viewAs<ApiKeyView & { key: string; predecessor: ApiKeyView }>(
        adminViews.rotatedApiKeyJson(await adminApiKeys.rotateApiKey(keyDeps, id, input, actor)),
      ),
    revokeKey: (id) => adminApiKeys.revokeApiKey(keyDeps, id, actor),

    createFederation: async (input) =>
      withWarnings(await adminFederations.createFederation(admin, input, actor)),
    listFederations: async () => (await adminFederations.listFederations(admin)).map(asFederation),
    showFederation: async (id) => asFederation(await adminFederations.showFederation(admin, id)),
    updateFederation: async (id, input) =>
      withWarnings(await adminFederations.updateFederation(admin, id, input, actor)),
    deleteFederation: (id) => adminFederations.deleteFederation(admin, id, actor),
    disableFederation: async (id) => asFederation(await adminFederations.disableFederation(admin, id, actor)),
    enableFederation: async (id) => asFederation(await adminFederations.enableFederation(admin, id, actor)),
    testFederation: async (id, token) =>
      adminViews.federationTestJson(id, await adminFederations.testFederation(admin, id, token)),

    async auditPage(query) {
      const after = query.cursor !== undefined ? auditCursor.decode(query.cursor) : undefined;
      if (query.cursor !== undefined && !after)
        throw new CliError('--cursor: not a cursor this command printed');
      const page = await listAuditPage(
        services.db,
        {
          ...auditQuery(query),
          limit: Math.min(query.limit, AUDIT_PAGE_MAX),
          ...(query.order ? { order: query.order } : {}),
          ...(after ? { after } : {}),
        },
        services.auditKey,
      );
      return { items: page.records, next_cursor: page.next ? auditCursor.encode(page.next) : null };
    },
    async exportAudit(filters, write) {
      let count = 0;
      let after: AuditListOptions['after'];
      do {
        const page = await listAuditPage(
          services.db,
          { ...auditQuery(filters), order: 'oldest', limit: 1000, ...(after ? { after } : {}) },
          services.auditKey,
        );
        await write(page.records.map((r) => `${JSON.stringify(r)}\n`).join(''));
        count += page.records.length;
        after = page.next;
      } while (after);
      return count;
    },
    verifyAudit: (input) =>
      verifyAuditLog(services.db, services.auditKey, {
        ...(input.anchors ? { anchors: input.anchors } : {}),
        now: admin.clock(),
        ...(input.maxUnsealedAgeSeconds !== undefined
          ? { maxUnsealedAgeMs: input.maxUnsealedAgeSeconds * 1000 }
          : {}),
      }),

    listSigningKeys: (input) => adminSigningKeys.listSigningKeys(services, { all: input.all }),
    rotateSigningKeys: async ({ withdrawNow }) =>
      adminViews.signingKeysRotatedJson(
        withdrawNow,
        await adminSigningKeys.replaceSigningKeys(services, { withdrawNow }, actor),
      ),

    createIdp: (input) => adminIdps.createIdp(idpDeps, input, actor),
    listIdps: () => adminIdps.listIdps(admin),
    showIdp: (id) => adminIdps.showIdp(admin, id),
    updateIdp: (id, input) => adminIdps.updateIdp(idpDeps, id, input, actor),
    deleteIdp: async (id) => adminViews.deletedIdpJson(await adminIdps.deleteIdp(idpDeps, id, actor)),
    listIdpLinks: (id, staleDays) => adminIdps.listIdpLinks(admin, id, staleDays),
    linkIdp: (id, input) => adminIdps.linkIdp(idpDeps, id, input, actor),
    unlinkIdp: async (id, subject) => {
      const { revokedFamilies } = await adminIdps.unlinkIdp(idpDeps, id, subject, actor);
      return { unlinked: true, revoked_families: revokedFamilies };
    },

    postureReport: async (policy, options) =>
      posture.postureJson(await posture.postureReport(services, policy, options)),

    kekStatus: async () => adminViews.kekStatusJson(await adminKek.kekStatus(services)),
    retireHashes: async (input) =>
      adminViews.hashRetirementJson(await adminKek.retireHashes(services, input, actor)),
  };
}
