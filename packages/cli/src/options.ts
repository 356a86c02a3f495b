/** Option parsers shared by commands: each turns argv text into a checked value or a one-line error. */
import { type DurationError, parseDuration } from '@clavis/core';
import { InvalidArgumentError } from 'commander';

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function duration(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as DurationError).message);
  }
}

export function port(value: string): number {
  const n = Number(value);
  if (!/^\d{1,5}$/.test(value) || n > 65535)
    throw new InvalidArgumentError('must be a port number (0-65535)');
  return n;
}

export function positiveInt(value: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError('must be a positive whole number');
  return Number(value);
}

export function wholeNumber(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError('must be a whole number');
  return Number(value);
}

/** What a client assertion's `aud` may be (CA-04). */
export const assertionAudiences = ['issuer', 'issuer-or-token-endpoint'] as const;

export function assertionAudience(value: string): (typeof assertionAudiences)[number] {
  const mode = assertionAudiences.find((m) => m === value);
  if (!mode) throw new InvalidArgumentError(`must be ${assertionAudiences.join(' or ')}`);
  return mode;
}

/** A point in time on a command line: an ISO-8601 instant, or a duration ago (`15m`, `7d`). */
export type TimeArg = { at: number } | { agoSeconds: number };

const isoInstant = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

export function time(value: string): TimeArg {
  if (isoInstant.test(value)) {
    const at = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
    if (Number.isFinite(at)) return { at };
  }
  try {
    return { agoSeconds: parseDuration(value) };
  } catch {
    throw new InvalidArgumentError(
      'must be an ISO-8601 UTC time (2026-01-31T09:00:00Z, 2026-01-31) or a duration ago (15m, 24h, 7d)',
    );
  }
}

/** The instant a TimeArg names, now being `now` (ms). */
export function resolveTime(arg: TimeArg, now: number): number {
  return 'at' in arg ? arg.at : now - arg.agoSeconds * 1000;
}

export const auditOutcomes = ['success', 'failure'] as const;

export function auditOutcome(value: string): (typeof auditOutcomes)[number] {
  const found = auditOutcomes.find((o) => o === value);
  if (!found) throw new InvalidArgumentError(`must be ${auditOutcomes.join(' or ')}`);
  return found;
}
