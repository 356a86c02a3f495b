/** The server values the help texts name without loading the server are the server's. */
import { configDefaults, DEFAULT_MAX_UNSEALED_AGE_MS, presetNames } from '@clavis/server';
import { describe, expect, it } from 'vitest';
import { serverDefaults } from '../src/commands/admin/help_defaults.js';

describe('serverDefaults', () => {
  it('match the server', () => {
    expect(serverDefaults).toEqual({
      apiKeyMaxTtlSeconds: configDefaults.apiKeyMaxTtlSeconds,
      maxUnsealedAgeMs: DEFAULT_MAX_UNSEALED_AGE_MS,
      federationPresets: presetNames,
    });
  });
});
