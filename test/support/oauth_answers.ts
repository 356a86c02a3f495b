/** Exact-answer checks on OAuth endpoints' responses: error bodies, the Basic challenge, token responses. */
import type { LightMyRequestResponse } from 'fastify';
import { decodeJwt, type JWTPayload } from 'jose';
import { expect } from 'vitest';

export const BASIC_CHALLENGE = 'Basic realm="clavis", charset="UTF-8"';

/** 401 `invalid_client` with the Basic challenge, never cached. */
export function expectInvalidClient(res: LightMyRequestResponse, description: string): void {
  expect(res.statusCode).toBe(401);
  expect(res.json()).toEqual({ error: 'invalid_client', error_description: description });
  expect(res.headers['www-authenticate']).toBe(BASIC_CHALLENGE);
  expect(res.headers['cache-control']).toBe('no-store');
}

/** A 4xx OAuth error with exactly this body. */
export function expectOAuthError(
  res: LightMyRequestResponse,
  status: number,
  error: string,
  description?: string,
): void {
  expect(res.statusCode).toBe(status);
  expect(res.json()).toEqual(
    description === undefined ? { error } : { error, error_description: description },
  );
  expect(res.headers['cache-control']).toBe('no-store');
}

/** A client_credentials token response; returns the access token's claims. */
export function expectToken(res: LightMyRequestResponse, scope = 'read write'): JWTPayload {
  expect(res.statusCode).toBe(200);
  expect(res.headers['cache-control']).toBe('no-store');
  const body = res.json();
  expect(body).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 600, scope });
  return decodeJwt(body.access_token);
}
