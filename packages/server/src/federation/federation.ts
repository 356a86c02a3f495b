/** A federation (workload trust policy) as the server reasons about it. */
import type { JSONWebKeySet } from 'jose';
import type { FederationRow } from '../storage/schema.js';
import type { Condition } from './policy.js';

export interface Federation {
  id: string;
  name: string;
  /** The service principal tokens are issued to. */
  clientId: string;
  issuer: string;
  audience: string;
  conditions: Condition[];
  jwks: JSONWebKeySet | null;
  jwksUri: string | null;
  scopes: string[];
  maxTtlSeconds: number;
  preset: string | null;
  createdAt: number;
  createdBy: string | null;
  disabledAt: number | null;
}

export function federationFromRow(row: FederationRow): Federation {
  return {
    id: row.id,
    name: row.name,
    clientId: row.client_id,
    issuer: row.issuer,
    audience: row.audience,
    conditions: JSON.parse(row.conditions) as Condition[],
    jwks: row.jwks ? (JSON.parse(row.jwks) as JSONWebKeySet) : null,
    jwksUri: row.jwks_uri,
    scopes: JSON.parse(row.scopes) as string[],
    maxTtlSeconds: Number(row.max_ttl),
    preset: row.preset,
    createdAt: Number(row.created_at),
    createdBy: row.created_by,
    disabledAt: row.disabled_at === null ? null : Number(row.disabled_at),
  };
}

/** The public view, in the snake_case the CLI and admin API print (`id` is pinned by DESIGN.md). */
export function federationView(f: Federation): Record<string, unknown> {
  return {
    id: f.id,
    name: f.name,
    client_id: f.clientId,
    issuer: f.issuer,
    audience: f.audience,
    conditions: f.conditions.map((c) => ({ claim: c.claim, pattern: c.pattern })),
    jwks_uri: f.jwksUri,
    has_jwks: f.jwks !== null,
    key_source: f.jwks ? 'inline' : f.jwksUri ? 'jwks_uri' : 'discovery',
    scopes: f.scopes,
    max_ttl: f.maxTtlSeconds,
    preset: f.preset,
    created_at: new Date(f.createdAt).toISOString(),
    created_by: f.createdBy,
    disabled_at: f.disabledAt ? new Date(f.disabledAt).toISOString() : null,
  };
}
