/**
 * Server settings read from the environment by both `serve` and the admin commands, so that a limit the
 * server enforces (the longest API-key lifetime) is the one `admin keys create` checks against.
 */
import { DurationError, parseDuration } from '@clavis/core';
import type { ServerConfig } from '@clavis/server';
import { CliError } from './errors.js';
import type { Io } from './io.js';

const durations = {
  CLAVIS_API_KEY_MAX_TTL: 'apiKeyMaxTtlSeconds',
  CLAVIS_API_KEY_MINT_MAX_TTL: 'apiKeyMintMaxTtlSeconds',
  CLAVIS_API_KEY_IDLE_REVOKE: 'apiKeyIdleRevokeSeconds',
} as const satisfies Record<string, keyof ServerConfig>;

export type ApiKeySettings = Partial<Pick<ServerConfig, (typeof durations)[keyof typeof durations]>>;

/** The API-key limits set in the environment (durations such as `30d`); a bad value is a CliError. */
export function apiKeySettings(env: Io['env']): ApiKeySettings {
  const out: ApiKeySettings = {};
  for (const [name, key] of Object.entries(durations)) {
    const text = env[name];
    if (!text) continue;
    try {
      out[key] = parseDuration(text);
    } catch (err) {
      if (err instanceof DurationError) throw new CliError(`${name}: ${err.message}`);
      throw err;
    }
  }
  return out;
}
