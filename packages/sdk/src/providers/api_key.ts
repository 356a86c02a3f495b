/**
 * An API key from `CLAVIS_API_KEY`, or printed by `CLAVIS_API_KEY_COMMAND` (a credential process), is
 * exchanged by RFC 8693 for a short-lived access token; the key itself never leaves for anywhere else.
 */
import { checkApiKey, formatScope, GrantType, TokenType } from '@clavis/core';
import { splitCommandLine } from '../argv.js';
import { ClavisError } from '../errors.js';
import { postForm, tokenResponse } from '../http.js';
import { tokenFromResponse } from '../token.js';
import type { CredentialProvider } from './provider.js';
import { runCredentialProcess } from './run_process.js';

export const fromApiKey: CredentialProvider = async (deps) => {
  const { env } = deps;
  let key = env.CLAVIS_API_KEY;
  if (!key && env.CLAVIS_API_KEY_COMMAND) {
    key = await runCredentialProcess(splitCommandLine(env.CLAVIS_API_KEY_COMMAND), {
      timeoutMs: deps.credentialProcessTimeoutMs,
      label: 'CLAVIS_API_KEY_COMMAND',
    });
  }
  if (!key) return undefined;
  key = key.trim();
  if (checkApiKey(key) !== 'valid') {
    const where = env.CLAVIS_API_KEY ? 'CLAVIS_API_KEY' : 'the output of CLAVIS_API_KEY_COMMAND';
    throw new ClavisError('invalid_configuration', `${where} is not a Clavis API key (clv_…)`);
  }
  const metadata = await deps.metadata();
  const result = await postForm(deps.http, metadata.token_endpoint, {
    grant_type: GrantType.TokenExchange,
    subject_token: key,
    subject_token_type: TokenType.ApiKey,
    requested_token_type: TokenType.AccessToken,
    scope: deps.scopes.length > 0 ? formatScope(deps.scopes) : undefined,
  });
  return tokenFromResponse(tokenResponse(result), 'api_key', deps.now());
};
