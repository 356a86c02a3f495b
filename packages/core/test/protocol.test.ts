import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CLIENT_ASSERTION_TYPE_JWT_BEARER, GrantType, TokenType } from '../src/protocol.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
/** The trees that must name the vocabulary from `@clavis/core`, never spell it. */
const guarded = ['packages/server/src', 'packages/cli/src'];
const urn = /urn:(?:ietf:params:oauth|clavis:params)[\w:.-]*/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.[cm]?[jt]s$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

describe('protocol vocabulary', () => {
  it('spells the RFC and Clavis identifiers exactly', () => {
    expect(Object.values(GrantType)).toEqual([
      'client_credentials',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:device_code',
      'urn:ietf:params:oauth:grant-type:token-exchange',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
    ]);
    expect(Object.values(TokenType)).toEqual([
      'urn:ietf:params:oauth:token-type:access_token',
      'urn:ietf:params:oauth:token-type:jwt',
      'urn:ietf:params:oauth:token-type:id_token',
      'urn:clavis:params:oauth:token-type:api_key',
    ]);
    expect(CLIENT_ASSERTION_TYPE_JWT_BEARER).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  });

  it('is spelled only in core: no URN in the server or CLI sources', () => {
    const found: string[] = [];
    for (const tree of guarded) {
      const files = sourceFiles(join(root, tree));
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        readFileSync(file, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            for (const [match] of line.matchAll(urn))
              found.push(`${relative(root, file)}:${i + 1}: ${match}`);
          });
      }
    }
    expect(found, 'name these from @clavis/core (GrantType, TokenType, …)').toEqual([]);
  });
});
