/**
 * Schema-driven checks of admin API responses: each response is checked against the schema the OpenAPI
 * document gives for its operation, status and content type (compiled with a JSON Schema 2020-12
 * validator, the dialect of OpenAPI 3.1), and the operations answered with a success are counted, so a
 * test can fail when a documented operation was never exercised.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';

const DOCUMENT_ID = 'https://clavis.test/admin/v1/openapi.json';

/** A schema whose `#/…` references point into the document. */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `${DOCUMENT_ID}${v}` : rebase(v),
    ]),
  );
}

type Response = { $ref?: string; content?: Record<string, { schema: unknown }> };
type Operation = { responses: Record<string, Response> };

export class DocumentChecker {
  readonly #paths: Record<string, Record<string, Operation>>;
  readonly #responses: Record<string, Response>;
  readonly #ajv = new Ajv2020({ strict: false, allErrors: true });
  readonly #compiled = new Map<string, ValidateFunction>();
  readonly #exercised = new Set<string>();

  constructor(document: Record<string, unknown>) {
    this.#paths = document.paths as Record<string, Record<string, Operation>>;
    this.#responses = (document.components as { responses?: Record<string, Response> }).responses ?? {};
    // The document's own references (`#/components/schemas/…`) resolve within it.
    this.#ajv.addSchema({ $id: DOCUMENT_ID, components: document.components });
  }

  /**
   * Checks `res`, the answer to `method path` where `path` is the document's path template
   * (`/clients/{client_id}`), against the document; returns the parsed body.
   */
  check(method: string, path: string, res: LightMyRequestResponse): unknown {
    const operation = this.#paths[path]?.[method.toLowerCase()];
    expect(operation, `${method} ${path} is not documented`).toBeDefined();
    const declared = operation?.responses[String(res.statusCode)];
    const response = declared?.$ref
      ? this.#responses[declared.$ref.replace('#/components/responses/', '')]
      : declared;
    expect(
      response,
      `${method} ${path} answered ${res.statusCode}, which is not documented: ${res.body}`,
    ).toBeDefined();
    const contentType = String(res.headers['content-type'] ?? '').split(';')[0] ?? '';
    let body: unknown;
    if (!response?.content) {
      expect(res.body, `${method} ${path} ${res.statusCode} documents no body`).toBe('');
    } else {
      const media = response.content[contentType];
      expect(
        media,
        `${method} ${path} ${res.statusCode} answered ${contentType}, not documented`,
      ).toBeDefined();
      body =
        contentType === 'application/json' || contentType.endsWith('+json') ? JSON.parse(res.body) : res.body;
      const key = `${method} ${path} ${res.statusCode} ${contentType}`;
      let validate = this.#compiled.get(key);
      if (!validate) {
        validate = this.#ajv.compile({
          $id: `${DOCUMENT_ID}/${this.#compiled.size}`,
          ...(rebase(media?.schema) as object),
        });
        this.#compiled.set(key, validate);
      }
      const valid = validate(body);
      expect(validate.errors ?? [], `${key}: ${res.body.slice(0, 500)}`).toEqual([]);
      expect(valid).toBe(true);
    }
    if (res.statusCode < 300) this.#exercised.add(`${method.toUpperCase()} ${path}`);
    return body;
  }

  /** The documented operations no checked response succeeded on. */
  unexercised(): string[] {
    return Object.entries(this.#paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .filter((op) => !this.#exercised.has(op));
  }
}
