/**
 * No false positive on the repository itself: `clavis scan` (the built binary) over the repository's
 * files finds nothing. A fixture that looks like a credential is allowed explicitly in its own line with
 * a `secretlint-disable-line` comment, which a reviewer sees.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { BIN, childEnv, NODE } from '../support/cli.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

it('the repository scans clean', () => {
  const res = spawnSync(NODE, [BIN, 'scan', '--json', ROOT], {
    env: childEnv(),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  expect(res.stderr).toBe('');
  const out = JSON.parse(res.stdout);
  expect(out.findings).toEqual([]);
  expect(res.status).toBe(0);
  // It did read the repository (git's file list: sources, not node_modules or dist).
  expect(out.scanned.files).toBeGreaterThan(300);
}, 120_000);
