/**
 * The OpenAPI document is valid OpenAPI 3.1 (the CI lint), is what GET /admin/v1/openapi.json serves
 * without a token, and documents exactly the routes the plugin registers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../../../../test/support/test_server.js';
import { problemTypes } from '../../src/admin_api/problem.js';
import { call, createAdminApiServer } from './support.js';

describe('the admin API OpenAPI document', () => {
  let server: TestServer;
  let document: Record<string, unknown>;
  beforeAll(async () => {
    server = await createAdminApiServer('sqlite');
    const res = await call(server, 'GET', '/openapi.json');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    document = res.json() as Record<string, unknown>;
  });
  afterAll(() => server.close());

  it('validates as OpenAPI 3.1', async () => {
    expect(document.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('documents only routes that are registered', () => {
    const documented = Object.entries(document.paths as Record<string, Record<string, unknown>>)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} /admin/v1${path}`))
      .sort();
    expect(documented.length).toBeGreaterThan(40);
    for (const entry of documented) {
      const [method, path] = entry.split(' ') as [string, string];
      const found = server.app.hasRoute({ method, url: path.replace(/\{([a-z_]+)\}/g, ':$1') });
      expect(found, `${entry} is documented but not registered`).toBe(true);
    }
  });

  it("names the problem types it answers with, as the README's Admin API section does", () => {
    const readme = readFileSync(join(import.meta.dirname, '../../../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Admin API'), readme.indexOf('## CLI reference'));
    for (const [slug, { status }] of Object.entries(problemTypes))
      expect(section, `README: ${slug}`).toMatch(
        new RegExp(`\`(urn:clavis:problem:)?${slug}\` \\(${status}\\)`),
      );
    const info = document.info as { description: string };
    for (const slug of Object.keys(problemTypes))
      expect(info.description).toContain(`urn:clavis:problem:${slug}`);
  });
});
