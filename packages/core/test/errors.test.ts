import { describe, expect, it } from 'vitest';
import {
  InvalidClient,
  InvalidRequest,
  OAuthError,
  oauthErrorCodes,
  oauthErrorFromResponse,
  ServerError,
  SlowDown,
  safeDescription,
  TemporarilyUnavailable,
  TooManyRequests,
} from '../src/errors.js';

describe('OAuth errors', () => {
  it('every documented code round-trips: wire body → class → the same code and a 4xx/5xx status', () => {
    for (const code of oauthErrorCodes) {
      const err = oauthErrorFromResponse({ error: code, error_description: 'why' });
      expect(err).toBeInstanceOf(OAuthError);
      expect(err.code).toBe(code);
      expect(err.toJSON()).toEqual({ error: code, error_description: 'why' });
      expect(err.status).toBeGreaterThanOrEqual(400);
      expect(err.status).toBeLessThan(600);
    }
  });

  it('statuses follow the RFCs: 400 by default, 401 invalid_client, 429, 503, 500', () => {
    expect(new InvalidRequest('x').status).toBe(400);
    expect(new SlowDown('x').status).toBe(400);
    expect(new InvalidClient('x').status).toBe(401);
    expect(new TooManyRequests('x', 2.2).status).toBe(429);
    expect(new TooManyRequests('x', 2.2).headers['retry-after']).toBe('3');
    expect(new TemporarilyUnavailable('x').status).toBe(503);
    expect(new TemporarilyUnavailable('x').headers['retry-after']).toBe('1');
    expect(new ServerError('x').status).toBe(500);
  });

  it('an unknown wire code becomes server_error and says which code it was', () => {
    const err = oauthErrorFromResponse({ error: 'made_up' });
    expect(err).toBeInstanceOf(ServerError);
    expect(err.description).toBe('unknown error made_up');
    expect(oauthErrorFromResponse({}).code).toBe('server_error');
  });

  it('a switch on the code narrows to the class, so its own members are in reach', () => {
    const seen = (['slow_down', 'too_many_requests', 'invalid_grant'] as const).map((error) => {
      const err = oauthErrorFromResponse({ error });
      switch (err.code) {
        case 'slow_down':
          return err satisfies SlowDown;
        case 'too_many_requests':
          return (err satisfies TooManyRequests).headers['retry-after'];
        default:
          return err.code;
      }
    });
    expect(seen[0]).toBeInstanceOf(SlowDown);
    expect(seen.slice(1)).toEqual(['1', 'invalid_grant']);
  });

  it('error_description never carries CR, LF, TAB, backslash or double quotes, and is bounded (BI-03)', () => {
    expect(safeDescription('a\r\nb\tc\\d "e"')).toBe("a b c d 'e'");
    expect(safeDescription('  padded  ')).toBe('padded');
    expect(safeDescription('é€')).toBe('');
    expect(safeDescription('x'.repeat(1000))).toHaveLength(300);
    expect(new InvalidRequest('bad\nline').toJSON()).toEqual({
      error: 'invalid_request',
      error_description: 'bad line',
    });
  });
});
