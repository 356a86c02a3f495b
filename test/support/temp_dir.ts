/** Scratch directories under the system's temporary folder, removed by the test that made them. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  path: string;
  /** Deletes the directory and all it holds (no error if it is gone already). */
  remove(): void;
}

export function tempDir(prefix = 'clavis-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
