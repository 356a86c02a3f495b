/**
 * `CLAVIS_UPSTREAM_TIMEOUT`, read by `clavis serve`: unset leaves the server's default (5 s); a duration
 * from 1s to 1m is taken in milliseconds; anything else is one line naming the variable.
 */
import { describe, expect, it } from 'vitest';
import { serveEnvSettings } from '../src/commands/serve_settings.js';
import { CliError } from '../src/errors.js';

const timeout = (env: Record<string, string>) => serveEnvSettings(env).upstreamTimeoutMs;

describe('serve upstream timeout setting', () => {
  it('unset is the default; a duration within bounds is taken in ms', () => {
    expect(timeout({})).toBeUndefined();
    expect(timeout({ CLAVIS_UPSTREAM_TIMEOUT: '1s' })).toBe(1000);
    expect(timeout({ CLAVIS_UPSTREAM_TIMEOUT: '15s' })).toBe(15_000);
    expect(timeout({ CLAVIS_UPSTREAM_TIMEOUT: '1m' })).toBe(60_000);
  });

  it.each([
    ['5', /^CLAVIS_UPSTREAM_TIMEOUT: invalid duration "5"/],
    ['soon', /^CLAVIS_UPSTREAM_TIMEOUT: invalid duration "soon"/],
    ['-5s', /^CLAVIS_UPSTREAM_TIMEOUT: /],
    ['0s', /^CLAVIS_UPSTREAM_TIMEOUT: a duration/],
    ['61s', /^CLAVIS_UPSTREAM_TIMEOUT: must be between 1s and 1m$/],
    ['1d', /^CLAVIS_UPSTREAM_TIMEOUT: must be between 1s and 1m$/],
    ['9'.repeat(400), /^CLAVIS_UPSTREAM_TIMEOUT: /],
  ])('%s is refused with one line naming the variable', (value, message) => {
    let error: unknown;
    try {
      timeout({ CLAVIS_UPSTREAM_TIMEOUT: value });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });
});
