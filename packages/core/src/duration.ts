/**
 * Durations as people write them on the command line: `90s`, `15m`, `1h`, `30d`.
 *
 * @example
 * ```ts
 * parseDuration('15m'); // 900
 * formatDuration(3600); // '1h'
 * ```
 */

const units = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

export class DurationError extends Error {
  override name = 'DurationError';
}

/** Parses `N[s|m|h|d]` into whole seconds. Throws `DurationError` on anything else. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,9})([smhd])$/.exec(text.trim());
  if (!match) throw new DurationError(`invalid duration "${text.slice(0, 32)}": use e.g. 90s, 15m, 1h, 30d`);
  const value = Number(match[1]) * units[match[2] as keyof typeof units];
  if (value <= 0) throw new DurationError('a duration must be greater than zero');
  return value;
}

/** The shortest exact rendering of a number of seconds. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
