/**
 * Server values that help texts name. Kept here, not imported, so that building the program (and
 * `clavis --help`) does not load the server; test/help_defaults.test.ts checks them against the server's.
 */
export const serverDefaults = {
  /** `configDefaults.apiKeyMaxTtlSeconds`: the longest API-key lifetime unless CLAVIS_API_KEY_MAX_TTL. */
  apiKeyMaxTtlSeconds: 90 * 86_400,
  /** `DEFAULT_MAX_UNSEALED_AGE_MS`: how long an audit record may stay unsealed. */
  maxUnsealedAgeMs: 30_000,
  /** `presetNames`: the platforms a federation may name with --preset. */
  federationPresets: ['github-actions', 'gitlab-ci', 'kubernetes', 'buildkite'],
} as const;
