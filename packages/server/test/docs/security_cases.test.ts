/**
 * Every security-case ID that a source or test file cites (`DF-07`, `CA-04`, `R-02`, …) is listed in
 * docs/security-cases.md, so a citation always leads to the case's text inside the repository.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const catalogue = join(root, 'docs/security-cases.md');

/** The catalogue's ID prefixes; `P-256`, `SHA-256` and the like are not case IDs. */
const caseId = /\b(?:DF|CA|CC|RT|TE|DP|RI|AK|BI|MF|SS|R|F|L)-\d{2}\b/g;

function citingFiles(): string[] {
  const files = ['README.md'];
  for (const pkg of readdirSync(join(root, 'packages'))) {
    for (const folder of ['src', 'test']) {
      const dir = join('packages', pkg, folder);
      let entries: string[];
      try {
        entries = readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' });
      } catch {
        continue;
      }
      for (const entry of entries) if (/\.(ts|js)$/.test(entry)) files.push(join(dir, entry));
    }
  }
  return files;
}

describe('security cases', () => {
  it('every cited case ID is listed in docs/security-cases.md', () => {
    const listed = new Set(
      [...readFileSync(catalogue, 'utf8').matchAll(/^\|\s*([A-Z]+-\d{2})\s*\|/gm)].map((m) => m[1]),
    );
    const unlisted: string[] = [];
    for (const file of citingFiles()) {
      for (const [id] of readFileSync(join(root, file), 'utf8').matchAll(caseId)) {
        if (!listed.has(id)) unlisted.push(`${file}: ${id}`);
      }
    }
    expect(unlisted).toEqual([]);
    expect(listed.size).toBeGreaterThan(0);
  });
});
