/**
 * Which User-Agents name a CI runner: the SDK's `ci/VENDOR` token as a whole word, nothing else — not a
 * look-alike, not an oversized or malformed vendor, not an absent header.
 */
import { describe, expect, it } from 'vitest';
import { ciOfUserAgent } from '../../src/posture/rules/person_token_refreshed_in_ci.js';

describe('ciOfUserAgent', () => {
  it.each([
    ['clavis-sdk/0.1.0 ci/github-actions', 'github-actions'],
    ['clavis-sdk/0.1.0 ci/jenkins', 'jenkins'],
    ['ci/ci', 'ci'],
    ['other-tool/2 ci/buildkite extra', 'buildkite'],
  ])('%s names %s', (ua, vendor) => {
    expect(ciOfUserAgent(ua)).toBe(vendor);
  });

  it.each([
    null,
    '',
    'clavis-sdk/0.1.0',
    'Mozilla/5.0 (X11; Linux x86_64)',
    'clavis-sdk/0.1.0 ci/',
    'clavis-sdk/0.1.0 magic/github-actions',
    'clavis-sdk/0.1.0 ci/<script>',
    `clavis-sdk/0.1.0 ci/${'x'.repeat(41)}`,
    `${'ci/'.repeat(10_000)}`,
  ])('%j names none', (ua) => {
    expect(ciOfUserAgent(ua)).toBeUndefined();
  });
});
