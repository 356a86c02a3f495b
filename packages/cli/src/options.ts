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

/** What a client assertion's `aud` may be (CA-04). */
export const assertionAudiences = ['issuer', 'issuer-or-token-endpoint'] as const;

export function assertionAudience(value: string): (typeof assertionAudiences)[number] {
  const mode = assertionAudiences.find((m) => m === value);
  if (!mode) throw new InvalidArgumentError(`must be ${assertionAudiences.join(' or ')}`);
  return mode;
}
