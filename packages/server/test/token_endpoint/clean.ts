/**
 * The token endpoint's promise for any input: a 4xx with an RFC 6749 §5.2 body (or a 404), never a
 * 500, never anything internal — no stack frame, file path, framework code or database message.
 */
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';

const INTERNALS =
  /\n\s+at |node_modules|\/work\/|\/src\/|\.ts:\d+|\.js:\d+|Error:|FST_|SQLITE|syntax error|relation "|duplicate key/i;

/** Asserts the answer is a clean client error and returns it. */
export function expectClean(res: LightMyRequestResponse): LightMyRequestResponse {
  expect(res.statusCode).toBeGreaterThanOrEqual(400);
  expect(res.statusCode).toBeLessThan(500);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(res.body).not.toMatch(INTERNALS);
  const body = res.json();
  expect(typeof body.error).toBe('string');
  expect(Object.keys(body).every((k) => k === 'error' || k === 'error_description')).toBe(true);
  return res;
}
