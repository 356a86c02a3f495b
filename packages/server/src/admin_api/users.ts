/** `/users`: what `clavis admin users …` does, on the same use cases, answering with the same views. */
import * as adminUsers from '../admin/users.js';
import { createdUserJson, disabledUserJson, passwordSetJson, revokedSessionsJson } from '../admin/views.js';
import type { ResourceDeps } from './deps.js';
import { pageOf, pageQuerySchema } from './pagination.js';
import { type AdminCall, type AdminResult, type AdminRoute, route } from './route.js';
import {
  body,
  boolean,
  createdUserSchema,
  disabledUserSchema,
  list,
  object,
  passwordSetSchema,
  revokedSessionsSchema,
  sessionSchema,
  text,
  textList,
  userDetailSchema,
  userSchema,
} from './schemas.js';

const TAG = 'users';
const userParams = object({
  user: { type: 'string', minLength: 1, maxLength: 128, description: 'A username or a user id' },
});
const pageQuery = { type: 'object', properties: pageQuerySchema, additionalProperties: false };

interface UserParams {
  user: string;
}

interface CreateBody {
  username: string;
  password?: string;
  totp?: boolean;
  is_admin?: boolean;
  scopes?: string[];
}

export function userRoutes(deps: ResourceDeps): AdminRoute[] {
  const users: adminUsers.UserAdminDeps = { ...deps.admin, totpKey: deps.totpKey };
  // The representation a read answers, and so what an ETag and If-Match are computed over.
  const show = async (params: UserParams) => adminUsers.showUserDetail(users, params.user);
  const action = (
    name: string,
    operationId: string,
    summary: string,
    access: 'change' | 'destructive',
    run: (user: string, actor: AdminCall['caller']['actor']) => Promise<adminUsers.UserView>,
  ) =>
    route<UserParams, unknown, unknown>({
      method: 'POST',
      url: `/users/:user/${name}`,
      operationId,
      summary,
      tag: TAG,
      access,
      schema: { params: userParams, responses: { 200: { description: 'The person', schema: userSchema } } },
      handler: async ({ params, caller }): Promise<AdminResult> => ({
        status: 200,
        body: await run(params.user, caller.actor),
      }),
    });
  return [
    route<unknown, { limit?: number; cursor?: string }, unknown>({
      method: 'GET',
      url: '/users',
      operationId: 'listUsers',
      summary: 'List people (clavis admin users list)',
      tag: TAG,
      access: 'read',
      schema: {
        querystring: pageQuery,
        responses: { 200: { description: 'The people', schema: list(userSchema) } },
      },
      handler: async ({ query }) => ({ status: 200, body: pageOf(await adminUsers.listUsers(users), query) }),
    }),
    route<unknown, unknown, CreateBody>({
      method: 'POST',
      url: '/users',
      operationId: 'createUser',
      summary:
        'Create a person (clavis admin users create); a generated password and a TOTP secret are in the answer, once',
      tag: TAG,
      access: 'change',
      idempotent: true,
      schema: {
        body: body(
          {
            username: text(64),
            password: text(adminUsers.PASSWORD_MAX_LENGTH),
            totp: boolean,
            is_admin: boolean,
            scopes: textList(128),
          },
          ['username'],
        ),
        responses: {
          201: {
            description: 'The person, with what was generated for them, once',
            schema: createdUserSchema,
            headers: { Location: 'The new person' },
          },
        },
      },
      handler: async ({ body: b, caller }) => {
        const created = await adminUsers.createUser(
          users,
          {
            username: b.username,
            ...(b.password !== undefined ? { password: b.password } : {}),
            totp: b.totp === true,
            isAdmin: b.is_admin === true,
            ...(b.scopes?.length ? { scopes: b.scopes } : {}),
          },
          caller.actor,
        );
        return {
          status: 201,
          headers: { location: `/admin/v1/users/${encodeURIComponent(created.user.id)}` },
          body: createdUserJson(created),
        };
      },
    }),
    route<UserParams, unknown, unknown>({
      method: 'GET',
      url: '/users/:user',
      operationId: 'showUser',
      summary: 'Show a person (clavis admin users show)',
      tag: TAG,
      access: 'read',
      etag: true,
      schema: {
        params: userParams,
        responses: { 200: { description: 'The person and their passkeys', schema: userDetailSchema } },
      },
      handler: async ({ params }) => ({
        status: 200,
        body: await show(params),
      }),
    }),
    route<UserParams, unknown, { scopes: string[] | null }>({
      method: 'PATCH',
      url: '/users/:user',
      operationId: 'setUserScopes',
      summary: "Replace a person's scope ceiling (clavis admin users set-scopes); null removes it",
      tag: TAG,
      access: 'change',
      ifMatch: { current: show, id: 'id' },
      schema: {
        params: userParams,
        body: body(
          { scopes: { type: ['array', 'null'], maxItems: 100, items: { type: 'string', maxLength: 128 } } },
          ['scopes'],
        ),
        responses: { 200: { description: 'The person as changed', schema: userSchema } },
      },
      handler: async ({ params, body: b, caller }) => ({
        status: 200,
        body: await adminUsers.setScopes(users, params.user, b.scopes, caller.actor),
      }),
    }),
    route<UserParams, unknown, unknown>({
      method: 'POST',
      url: '/users/:user/disable',
      operationId: 'disableUser',
      summary: 'Disable a person and end every session of theirs (clavis admin users disable)',
      tag: TAG,
      access: 'destructive',
      schema: {
        params: userParams,
        responses: {
          200: { description: 'The person, and how many sessions ended', schema: disabledUserSchema },
        },
      },
      handler: async ({ params, caller }) => {
        return {
          status: 200,
          body: disabledUserJson(await adminUsers.disableUser(users, params.user, caller.actor)),
        };
      },
    }),
    action('enable', 'enableUser', 'Enable a person (clavis admin users enable)', 'change', (u, a) =>
      adminUsers.enableUser(users, u, a),
    ),
    action(
      'unlock',
      'unlockUser',
      'Lift the lock of a person (clavis admin users unlock)',
      'change',
      (u, a) => adminUsers.unlockUser(users, u, a),
    ),
    action(
      'reset-mfa',
      'resetUserMfa',
      "Remove a person's second factor (clavis admin users reset-mfa)",
      'destructive',
      (u, a) => adminUsers.resetMfa(users, u, a),
    ),
    route<UserParams, unknown, { password?: string }>({
      method: 'POST',
      url: '/users/:user/set-password',
      operationId: 'setUserPassword',
      summary:
        'Set a password (clavis admin users set-password); without one, a one-time password is generated and returned once',
      tag: TAG,
      access: 'destructive',
      optionalBody: true,
      schema: {
        params: userParams,
        body: body({ password: text(adminUsers.PASSWORD_MAX_LENGTH) }),
        responses: {
          200: { description: 'The person, with the generated password once', schema: passwordSetSchema },
        },
      },
      handler: async ({ params, body: b, caller }) => {
        const result = await adminUsers.setPassword(
          users,
          params.user,
          b.password !== undefined ? { password: b.password } : {},
          caller.actor,
        );
        return { status: 200, body: passwordSetJson(result) };
      },
    }),
    route<UserParams, { limit?: number; cursor?: string }, unknown>({
      method: 'GET',
      url: '/users/:user/sessions',
      operationId: 'listUserSessions',
      summary: "A person's live sessions (clavis admin users sessions)",
      tag: TAG,
      access: 'read',
      schema: {
        params: userParams,
        querystring: pageQuery,
        responses: { 200: { description: 'The sessions', schema: list(sessionSchema) } },
      },
      handler: async ({ params, query }) => ({
        status: 200,
        body: pageOf((await adminUsers.listSessions(users, params.user)).sessions, query),
      }),
    }),
    route<UserParams, unknown, unknown>({
      method: 'DELETE',
      url: '/users/:user/sessions',
      operationId: 'revokeUserSessions',
      summary: 'Sign a person out everywhere (clavis admin users revoke-sessions)',
      tag: TAG,
      access: 'destructive',
      schema: {
        params: userParams,
        responses: { 200: { description: 'How many sessions ended', schema: revokedSessionsSchema } },
      },
      handler: async ({ params, caller }) => {
        const result = await adminUsers.revokeSessions(users, params.user, caller.actor);
        return { status: 200, body: revokedSessionsJson(result) };
      },
    }),
  ];
}
