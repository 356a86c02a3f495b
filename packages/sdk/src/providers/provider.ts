/**
 * What a credential provider is: a small function that either produces a token or says "not mine"
 * (`undefined`), tried in a documented order by the client. Each gets the same dependencies.
 */

import type { DetectedContext } from '../context.js';
import type { ServerMetadata } from '../discovery.js';
import type { HttpOptions } from '../http.js';
import type { Token } from '../token.js';

export type Env = Record<string, string | undefined>;

export interface ProviderDeps {
  issuer: string;
  clientId: string;
  scopes: readonly string[];
  /** The audience of workload tokens asked of a CI platform (`CLAVIS_AUDIENCE`, else the issuer). */
  audience: string;
  env: Env;
  http: HttpOptions;
  context: DetectedContext;
  metadata: () => Promise<ServerMetadata>;
  now: () => number;
  credentialProcessTimeoutMs: number;
  /** The GitLab CI variable holding the ID token (`id_tokens:` in .gitlab-ci.yml). */
  gitlabIdTokenVariable: string;
}

/** Produces a token, or `undefined` when its credential is not configured here. */
export type CredentialProvider = (deps: ProviderDeps) => Promise<Token | undefined>;
