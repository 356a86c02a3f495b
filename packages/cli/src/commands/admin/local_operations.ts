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
  adminSigningKeys,
  adminUsers,
  auditCursor,
  type Client,
  clientView,
  configDefaults,
  type Federation,
  federationView,
  listAuditPage,
  verifyAuditLog,
} from '@clavis/server';
import { CliError } from '../../errors.js';
import type { Env } from '../../io.js';
import { apiKeySettings } from '../../settings.js';
import type { AdminContext } from './context.js';
import type { AdminOperations, AuditFilters, ClientView, FederationView } from './operations.js';

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
  const withWarnings = (federation: Federation) => ({
    ...asFederation(federation),
    warnings: adminFederations.federationWarnings(federation),
  });

  return {
    async createClient({ authMethod, ...input }) {
      const { client, secret } = await adminClients.createClient(
        admin,
        // The server checks the method; this only names its type.
        { ...input, ...(authMethod ? { authMethod: authMethod as Client['authMethod'] } : {}) },
        actor,
      );
      return { ...asClient(client), ...(secret ? { client_secret: secret } : {}) };
    },
    listClients: async () => (await adminClients.listClients(admin)).map(asClient),
    showClient: async (id) => asClient(await adminClients.showClient(admin, id)),
    updateClient: async (id, input) => asClient(await adminClients.updateClient(admin, id, input, actor)),
    deleteClient: (id) => adminClients.deleteClient(admin, id, actor),
    disableClient: async (id) => asClient(await adminClients.disableClient(admin, id, actor)),
    enableClient: async (id) => asClient(await adminClients.enableClient(admin, id, actor)),
    async rotateClientSecret(id, input) {
      const result = await adminClients.rotateClientSecret(admin, id, input, actor);
      return {
        client_id: result.clientId,
        client_secret: result.secret,
        previous_secrets_expire_at: new Date(result.previousExpireAt).toISOString(),
      };
    },
    listClientSecrets: (id) => adminClientSecrets.listSecrets(admin, id),
    revokeClientSecret: (id, secretId) => adminClientSecrets.revokeSecret(admin, id, secretId, actor),

    async createUser(input) {
      const created = await adminUsers.createUser(admin, input, actor);
      return {
        ...created.user,
        ...(created.password !== undefined ? { password: created.password } : {}),
        ...(created.totpSecret !== undefined
          ? { totp_secret: created.totpSecret, totp_uri: created.totpUri ?? '' }
          : {}),
      };
    },
    listUsers: () => adminUsers.listUsers(admin),
    showUser: (user) => adminUsers.showUser(admin, user),
    async disableUser(name) {
      const { user, revokedFamilies } = await adminUsers.disableUser(admin, name, actor);
      return { ...user, revoked_families: revokedFamilies };
    },
    enableUser: (user) => adminUsers.enableUser(admin, user, actor),
    unlockUser: (user) => adminUsers.unlockUser(admin, user, actor),
    resetMfa: (user) => adminUsers.resetMfa(admin, user, actor),
    async setPassword(name, input) {
      const { user, password } = await adminUsers.setPassword(admin, name, input, actor);
      return { ...user, ...(password !== undefined ? { password } : {}) };
    },
    setScopes: (user, scopes) => adminUsers.setScopes(admin, user, scopes, actor),
    listSessions: async (user) => (await adminUsers.listSessions(admin, user)).sessions,
    async revokeSessions(name) {
      const { user, revokedFamilies } = await adminUsers.revokeSessions(admin, name, actor);
      return { user: user.username, revoked_families: revokedFamilies };
    },

    async createKey(input) {
      const created = await adminApiKeys.createApiKey(keyDeps, input, actor);
      return { ...created.key, key: created.plaintext };
    },
    listKeys: (input) => adminApiKeys.listApiKeys(keyDeps, input),
    showKey: (id) => adminApiKeys.showApiKey(keyDeps, id),
    updateKey: (id, input) => adminApiKeys.updateApiKey(keyDeps, id, input, actor),
    async rotateKey(id, input) {
      const rotated = await adminApiKeys.rotateApiKey(keyDeps, id, input, actor);
      return { ...rotated.key, key: rotated.plaintext, predecessor: rotated.old };
    },
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
    async testFederation(id, token) {
      const { results, pass } = await adminFederations.testFederation(admin, id, token);
      return { id, pass, conditions: results };
    },

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
    async rotateSigningKeys({ withdrawNow }) {
      const result = await adminSigningKeys.replaceSigningKeys(services, { withdrawNow }, actor);
      return { withdraw_now: withdrawNow, ...result };
    },
  };
}
