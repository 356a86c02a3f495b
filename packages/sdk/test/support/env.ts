/** A scratch config directory per test, and an environment that points the SDK at it and nothing else. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DetectedContext } from '@clavis/sdk';

export interface Scratch {
  dir: string;
  env: Record<string, string | undefined>;
  cleanup(): Promise<void>;
}

export async function scratch(extra: Record<string, string> = {}): Promise<Scratch> {
  const dir = await mkdtemp(join(tmpdir(), 'clavis-sdk-'));
  return {
    dir,
    env: { XDG_CONFIG_HOME: join(dir, 'config'), HOME: dir, PATH: process.env.PATH, ...extra },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Not a terminal, not CI, not Kubernetes. */
export const headless: DetectedContext = {
  interactive: false,
  ssh: false,
  browser: false,
  ci: null,
  kubernetes: false,
  kubernetesTokenFile: '/nonexistent',
};
