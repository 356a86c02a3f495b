/**
 * The settings `clavis serve` reads from the environment, each checked on its own: a bad value is one
 * line naming the variable and what it must be, never a stack or a library's internals.
 */
import { isIP } from 'node:net';
import { type DurationError, parseDuration } from '@clavis/core';
import {
  ConfigError,
  DatabaseUrlError,
  parseDatabaseUrl,
  resolveConfig,
  type ServerConfig,
  type SigningAlg,
  signingAlgs,
} from '@clavis/server';
import { CliError } from '../errors.js';
import type { Env } from '../io.js';
import { assertionAudience, assertionAudiences, port } from '../options.js';

/** The levels the server's logger knows, quietest last. */
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

export interface ServeEnvSettings {
  db: string;
  port: number;
  host: string;
  issuer: string | undefined;
  logLevel: LogLevel;
  signingAlg: SigningAlg | undefined;
  trustedProxies: string[] | undefined;
  assertionAudience: ServerConfig['assertionAudience'] | undefined;
  auditAnchorCheck: 'refuse' | 'warn' | undefined;
  /** CLAVIS_SHUTDOWN_TIMEOUT, in ms (undefined: the server's default, 10 s). */
  shutdownTimeoutMs: number | undefined;
  /** CLAVIS_SHUTDOWN_DRAIN, in ms (undefined: none). */
  shutdownDrainMs: number | undefined;
  /** CLAVIS_UPSTREAM_TIMEOUT, in ms (undefined: the server's default, 5 s). */
  upstreamTimeoutMs: number | undefined;
  /** `CLAVIS_METRICS=1`: on the main port; `CLAVIS_METRICS_LISTEN=HOST:PORT`: on its own listener. */
  metrics: 'off' | 'main' | { host: string; port: number };
}

function bad(name: string, problem: string): CliError {
  return new CliError(`${name}: ${problem}`);
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (!found) throw bad(name, `"${value.slice(0, 64)}" is not one of ${allowed.join(', ')}`);
  return found;
}

/** A host to listen on: an IP address or a DNS name. */
function hostName(name: string, value: string): string {
  const dnsName = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
  if (isIP(value) === 0 && (!dnsName.test(value) || /^[\d.]+$/.test(value)))
    throw bad(name, `"${value.slice(0, 64)}" is not an IP address or host name`);
  return value;
}

/** Runs a server-side check of one setting, and names the variable in its error. */
function checked<T>(name: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof DatabaseUrlError) throw bad(name, err.message);
    throw err;
  }
}

/** `CLAVIS_METRICS_LISTEN`: `HOST:PORT`, an IPv6 host in brackets (`[::1]:9464`). */
function metricsListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(value);
  const host = match?.[1] ?? match?.[2];
  if (!match || !host || (match[1] !== undefined && isIP(host) !== 6))
    throw bad('CLAVIS_METRICS_LISTEN', `"${value.slice(0, 64)}" is not HOST:PORT (an IPv6 host in brackets)`);
  let listenPort: number;
  try {
    listenPort = port(match[3] ?? '');
  } catch (err) {
    throw bad('CLAVIS_METRICS_LISTEN', `port "${(match[3] ?? '').slice(0, 16)}" ${(err as Error).message}`);
  }
  return { host: hostName('CLAVIS_METRICS_LISTEN', host), port: listenPort };
}

/** Where `/metrics` is served, from `CLAVIS_METRICS` and `CLAVIS_METRICS_LISTEN` (which wins). */
function metricsSetting(env: Env): ServeEnvSettings['metrics'] {
  if (env.CLAVIS_METRICS_LISTEN) return metricsListen(env.CLAVIS_METRICS_LISTEN);
  const on = env.CLAVIS_METRICS;
  if (!on) return 'off';
  return oneOf('CLAVIS_METRICS', on, ['0', '1'] as const) === '1' ? 'main' : 'off';
}

/** Every serve setting of the environment, with its default; the first bad one is a CliError. */
export function serveEnvSettings(env: Env): ServeEnvSettings {
  const db = env.CLAVIS_DB || 'sqlite:./clavis.db';
  if (env.CLAVIS_DB) checked('CLAVIS_DB', () => parseDatabaseUrl(db));
  let listenPort = 8080;
  if (env.CLAVIS_PORT) {
    try {
      listenPort = port(env.CLAVIS_PORT);
    } catch (err) {
      throw bad('CLAVIS_PORT', `"${env.CLAVIS_PORT.slice(0, 64)}" ${(err as Error).message}`);
    }
  }
  const host = env.CLAVIS_HOST ? hostName('CLAVIS_HOST', env.CLAVIS_HOST) : '127.0.0.1';
  const issuer = env.CLAVIS_ISSUER || undefined;
  if (issuer) checked('CLAVIS_ISSUER', () => resolveConfig({ issuer }));
  const trustedProxies = env.CLAVIS_TRUSTED_PROXIES
    ? env.CLAVIS_TRUSTED_PROXIES.split(',').map((s) => s.trim())
    : undefined;
  if (trustedProxies)
    checked('CLAVIS_TRUSTED_PROXIES', () => resolveConfig({ issuer: 'http://localhost', trustedProxies }));
  return {
    db,
    port: listenPort,
    host,
    issuer,
    logLevel: env.CLAVIS_LOG_LEVEL ? oneOf('CLAVIS_LOG_LEVEL', env.CLAVIS_LOG_LEVEL, logLevels) : 'info',
    signingAlg: env.CLAVIS_SIGNING_ALG
      ? oneOf('CLAVIS_SIGNING_ALG', env.CLAVIS_SIGNING_ALG, signingAlgs)
      : undefined,
    trustedProxies,
    assertionAudience: env.CLAVIS_ASSERTION_AUDIENCE
      ? checked('CLAVIS_ASSERTION_AUDIENCE', () => {
          try {
            return assertionAudience(env.CLAVIS_ASSERTION_AUDIENCE ?? '');
          } catch {
            throw bad('CLAVIS_ASSERTION_AUDIENCE', `must be ${assertionAudiences.join(' or ')}`);
          }
        })
      : undefined,
    auditAnchorCheck: env.CLAVIS_AUDIT_ANCHOR_CHECK
      ? oneOf('CLAVIS_AUDIT_ANCHOR_CHECK', env.CLAVIS_AUDIT_ANCHOR_CHECK, ['refuse', 'warn'] as const)
      : undefined,
    shutdownTimeoutMs: env.CLAVIS_SHUTDOWN_TIMEOUT
      ? shutdownDuration('CLAVIS_SHUTDOWN_TIMEOUT', env.CLAVIS_SHUTDOWN_TIMEOUT)
      : undefined,
    shutdownDrainMs:
      env.CLAVIS_SHUTDOWN_DRAIN && env.CLAVIS_SHUTDOWN_DRAIN !== '0'
        ? shutdownDuration('CLAVIS_SHUTDOWN_DRAIN', env.CLAVIS_SHUTDOWN_DRAIN)
        : undefined,
    upstreamTimeoutMs: env.CLAVIS_UPSTREAM_TIMEOUT ? upstreamTimeout(env.CLAVIS_UPSTREAM_TIMEOUT) : undefined,
    metrics: metricsSetting(env),
  };
}

/**
 * How long each request to an identity provider may take: 1s to 1m. Shorter fails a provider that is
 * merely slow; longer holds a person's sign-in (and a request slot) on one that hangs.
 */
function upstreamTimeout(value: string): number {
  const name = 'CLAVIS_UPSTREAM_TIMEOUT';
  let seconds: number;
  try {
    seconds = parseDuration(value);
  } catch (err) {
    throw bad(name, (err as DurationError).message);
  }
  if (seconds < 1 || seconds > 60) throw bad(name, 'must be between 1s and 1m');
  return seconds * 1000;
}

/** A shutdown time: a duration such as 10s or 1m, at most an hour; in ms. */
function shutdownDuration(name: string, value: string): number {
  let seconds: number;
  try {
    seconds = parseDuration(value);
  } catch (err) {
    throw bad(name, (err as DurationError).message);
  }
  if (seconds > 3600) throw bad(name, 'must be at most 1h');
  return seconds * 1000;
}
