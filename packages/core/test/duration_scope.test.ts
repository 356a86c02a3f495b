import { describe, expect, it } from 'vitest';
import { DurationError, formatDuration, parseDuration } from '../src/duration.js';
import { formatScope, isScopeToken, parseScope } from '../src/scope.js';

describe('durations', () => {
  it('parses 90s, 15m, 1h, 30d and formats them back', () => {
    for (const [text, seconds] of [
      ['90s', 90],
      ['15m', 900],
      ['1h', 3600],
      ['30d', 2_592_000],
    ] as const) {
      expect(parseDuration(text)).toBe(seconds);
      expect(formatDuration(seconds)).toBe(text);
    }
    expect(formatDuration(7200)).toBe('2h');
  });

  it('rejects what is not N followed by s, m, h or d, and zero', () => {
    for (const bad of ['', '5', 'h', '1.5h', '-1h', '1w', '0s', '1 h', '9999999999s']) {
      expect(() => parseDuration(bad), bad).toThrow(DurationError);
    }
  });
});

describe('scopes (RFC 6749 §3.3)', () => {
  it('splits into distinct tokens in order; empty is none', () => {
    expect(parseScope('read write read')).toEqual(['read', 'write']);
    expect(parseScope('')).toEqual([]);
    expect(formatScope(['a', 'b'])).toBe('a b');
  });

  it('refuses control characters, quotes, backslashes and doubled or edge spaces', () => {
    for (const bad of ['a\nb', 'a"b', 'a\\b', 'a  b', ' a', 'a ', 'a\tb', 'é']) {
      expect(parseScope(bad), JSON.stringify(bad)).toBeNull();
    }
    expect(isScopeToken('x'.repeat(129))).toBe(false);
    expect(isScopeToken('keys:mint')).toBe(true);
  });
});
