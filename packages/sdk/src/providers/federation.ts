/**
 * Workload identity federation: in CI or a Kubernetes pod, the platform's signed OIDC token is
 * exchanged by RFC 8693 (`subject_token_type` = `urn:ietf:params:oauth:token-type:jwt`) for a
 * short-lived token of the service principal a federation on the server maps it to. No client
 * authentication: the workload token is the credential; `CLAVIS_CLIENT_ID`, when set, is sent and must
 * name that principal. The platform token is asked for with the issuer URL as audience, unless
 * `CLAVIS_AUDIENCE` names another (CircleCI and Azure Pipelines fix the audience themselves).
 */
import { readFile } from 'node:fs/promises';
import { formatScope, GrantType, TokenType } from '@clavis/core';
import { ClavisError } from '../errors.js';
import { postForm, request, tokenResponse } from '../http.js';
import { tokenFromResponse } from '../token.js';
import type { CredentialProvider, ProviderDeps } from './provider.js';
import { runCredentialProcess } from './run_process.js';

const MAX_WORKLOAD_TOKEN_BYTES = 16 * 1024;

const unavailable = (why: string, cause?: unknown): ClavisError =>
  new ClavisError('federation_unavailable', why, { cause });

async function githubActions(deps: ProviderDeps): Promise<string> {
  const { ACTIONS_ID_TOKEN_REQUEST_URL: url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: bearer } = deps.env;
  if (!url || !bearer) {
    throw unavailable(
      'GitHub Actions: no ID-token request URL in this job; give it `permissions: id-token: write`',
    );
  }
  const target = new URL(url);
  target.searchParams.set('audience', deps.audience);
  const result = await request(deps.http, target.href, {
    headers: { authorization: `Bearer ${bearer}`, accept: 'application/json' },
  });
  const value = result.json?.value;
  if (result.status !== 200 || typeof value !== 'string' || !value) {
    throw unavailable(`GitHub Actions: the ID-token request answered HTTP ${result.status} without a token`);
  }
  return value;
}

async function gitlabCi(deps: ProviderDeps): Promise<string> {
  const name = deps.gitlabIdTokenVariable;
  const token = deps.env[name];
  if (!token) {
    throw unavailable(
      `GitLab CI: no ${name}; define it in .gitlab-ci.yml: id_tokens: { ${name}: { aud: ${deps.audience} } }`,
    );
  }
  return token;
}

function buildkite(deps: ProviderDeps): Promise<string> {
  return runCredentialProcess(['buildkite-agent', 'oidc', 'request-token', '--audience', deps.audience], {
    timeoutMs: deps.credentialProcessTimeoutMs,
    env: deps.env as NodeJS.ProcessEnv,
  });
}

async function circleci(deps: ProviderDeps): Promise<string> {
  const token = deps.env.CIRCLE_OIDC_TOKEN_V2 || deps.env.CIRCLE_OIDC_TOKEN;
  if (!token) throw unavailable('CircleCI: no CIRCLE_OIDC_TOKEN_V2 or CIRCLE_OIDC_TOKEN in this job');
  return token;
}

async function azurePipelines(deps: ProviderDeps): Promise<string> {
  const { SYSTEM_OIDCREQUESTURI: uri, SYSTEM_ACCESSTOKEN: bearer } = deps.env;
  if (!uri || !bearer) {
    throw unavailable(
      'Azure Pipelines: SYSTEM_OIDCREQUESTURI and SYSTEM_ACCESSTOKEN must be mapped into the job',
    );
  }
  const target = new URL(uri);
  target.searchParams.set('api-version', '7.1');
  const connection = deps.env.CLAVIS_AZURE_SERVICE_CONNECTION_ID;
  if (connection) target.searchParams.set('serviceConnectionId', connection);
  const result = await request(deps.http, target.href, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${bearer}`,
      accept: 'application/json',
      'content-type': 'application/json',
      'x-tfs-fedauthredirect': 'Suppress',
    },
  });
  const token = result.json?.oidcToken;
  if (result.status !== 200 || typeof token !== 'string' || !token) {
    throw unavailable(`Azure Pipelines: the OIDC request answered HTTP ${result.status} without a token`);
  }
  return token;
}

async function kubernetes(deps: ProviderDeps): Promise<string> {
  let token: string;
  try {
    const bytes = await readFile(deps.context.kubernetesTokenFile);
    if (bytes.byteLength > MAX_WORKLOAD_TOKEN_BYTES) throw new Error('too large');
    token = bytes.toString('utf8').trim();
  } catch (err) {
    throw unavailable('Kubernetes: the service-account token file cannot be read', err);
  }
  if (!token) throw unavailable('Kubernetes: the service-account token file is empty');
  return token;
}

/** The platform's OIDC token here, or `undefined` when no supported platform is detected. */
export function workloadToken(deps: ProviderDeps): Promise<string> | undefined {
  switch (deps.context.ci) {
    case 'github-actions':
      return githubActions(deps);
    case 'gitlab-ci':
      return gitlabCi(deps);
    case 'buildkite':
      return buildkite(deps);
    case 'circleci':
      return circleci(deps);
    case 'azure-pipelines':
      return azurePipelines(deps);
    default:
      return deps.context.kubernetes ? kubernetes(deps) : undefined;
  }
}

export const fromFederation: CredentialProvider = async (deps) => {
  const pending = workloadToken(deps);
  if (!pending) return undefined;
  const subjectToken = await pending;
  if (subjectToken.length > MAX_WORKLOAD_TOKEN_BYTES) throw unavailable('the workload token is too large');
  const metadata = await deps.metadata();
  const result = await postForm(deps.http, metadata.token_endpoint, {
    grant_type: GrantType.TokenExchange,
    subject_token: subjectToken,
    subject_token_type: TokenType.Jwt,
    requested_token_type: TokenType.AccessToken,
    client_id: deps.env.CLAVIS_CLIENT_ID || undefined,
    scope: deps.scopes.length > 0 ? formatScope(deps.scopes) : undefined,
  });
  return tokenFromResponse(tokenResponse(result), 'federation', deps.now());
};
