/**
 * One field of a `show` command's text output, written the way an operator writes it on the command line:
 * a lifetime in seconds (`…_ttl`) as a duration (`10m`), lists space-separated, nothing as `-`. Times
 * arrive from the views already as ISO-8601 UTC. `--json` output keeps the numbers.
 */
import { formatDuration } from '@clavis/core';

export function fieldText(key: string, value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.length ? value.join(' ') : '-';
  if (/(^|_)ttl$/.test(key) && typeof value === 'number' && Number.isInteger(value) && value > 0)
    return formatDuration(value);
  return String(value);
}
