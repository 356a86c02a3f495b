/**
 * `@clavis/sdk`: the right Clavis credential for whoever is acting — a person at a terminal (device
 * flow), a service (private key), a CI job or a pod (workload identity federation), bounded automation
 * (an API key) — chosen by context, cached, refreshed and stored safely.
 *
 * @example
 * ```ts
 * import { createClient } from '@clavis/sdk';
 *
 * const client = createClient({ issuer: 'https://clavis.example.com', clientId: 'clavis-cli' });
 * const res = await client.fetch('https://api.example.com/invoices');
 * ```
 */
export { splitCommandLine } from './argv.js';
export {
  type ClavisClient,
  type ClientOptions,
  createClient,
  type LoginOptions,
  type WhoAmI,
  type WhoAmIJson,
  whoamiJson,
} from './client.js';
export {
  type CiVendor,
  DEFAULT_K8S_TOKEN_FILE,
  type DetectedContext,
  type DetectOptions,
  detectCiVendor,
  detectContext,
} from './context.js';
export { abortableSleep, type DeviceCode, type Sleep } from './device_flow.js';
export { discover, normaliseIssuer, type ServerMetadata } from './discovery.js';
export { ClavisError, type ClavisErrorCode, clavisErrorCodes } from './errors.js';
export { defaultHttpOptions, type HttpOptions } from './http.js';
export { clientAssertion, parsePrivateKey, type SigningKey } from './providers/private_key.js';
export { type RunProcessOptions, runCredentialProcess } from './providers/run_process.js';
export {
  type ClavisConfig,
  type LoginPointer,
  lastServer,
  readConfig,
  rememberServer,
  updateConfig,
} from './store/config.js';
export { configDir } from './store/files.js';
export { type Keychain, KeychainUnavailable, osKeychain } from './store/keychain.js';
export { type LockOptions, withFileLock } from './store/lock.js';
export {
  type FoundLogin,
  LoginStore,
  type LoginStoreOptions,
  type StoredLogin,
} from './store/login_store.js';
export {
  needsRenewal,
  type Principal,
  principalOf,
  type Token,
  type TokenSource,
  type TokenStoreKind,
} from './token.js';
export { bearerError } from './www_authenticate.js';
