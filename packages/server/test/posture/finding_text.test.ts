/**
 * How a finding's text names a span of days: rounded down, singular for one, and never "0 days" (a key
 * reported leaked an hour ago was reported "less than a day ago").
 */
import { describe, expect, it } from 'vitest';
import { days } from '../../src/posture/finding.js';

const DAY = 86_400_000;

describe('days', () => {
  it.each([
    [0, 'less than a day'],
    [DAY - 1, 'less than a day'],
    [DAY, '1 day'],
    [2 * DAY - 1, '1 day'],
    [2 * DAY, '2 days'],
    [90 * DAY + 5, '90 days'],
  ])('%d ms is %s', (ms, text) => {
    expect(days(ms)).toBe(text);
  });
});
