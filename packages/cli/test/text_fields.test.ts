/** A show command's text fields: lifetimes as durations, empty and missing values as `-`. */
import { describe, expect, it } from 'vitest';
import { fieldText } from '../src/commands/admin/text_fields.js';

describe('fieldText', () => {
  it.each([
    ['access_token_ttl', 600, '10m'],
    ['refresh_absolute_ttl', 86_400, '1d'],
    ['max_ttl', 5400, '90m'],
    ['refresh_idle_ttl', null, '-'],
    ['scopes', [], '-'],
    ['scopes', ['read', 'write'], 'read write'],
    ['created_at', '2026-01-31T09:00:00.000Z', '2026-01-31T09:00:00.000Z'],
    ['uses', 0, '0'],
    ['settled', 600, '600'],
  ])('%s = %j → %s', (key, value, text) => {
    expect(fieldText(key, value)).toBe(text);
  });
});
