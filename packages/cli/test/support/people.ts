/**
 * A person at `clavis login`: a real server (`startServer` on a temp SQLite file, from test/support),
 * Debian's Chromium approving the link with password and TOTP, and a scratch config directory per
 * test so each `clavis` process finds only the logins the test made.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export { chromiumAvailable, launchChromium } from '../../../../test/support/browser.js';
export { Person } from '../../../../test/support/device_approval.js';
export { startTestServer, type TestServer } from '../../../../test/support/listening_server.js';

export interface Home {
  dir: string;
  /** PATH, HOME and XDG_CONFIG_HOME in the scratch directory: no keychain, no CI, no terminal. */
  env: Record<string, string>;
  remove(): void;
}

export function home(extra: Record<string, string> = {}): Home {
  const dir = mkdtempSync(join(tmpdir(), 'clavis-cli-person-'));
  return {
    dir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      XDG_CONFIG_HOME: join(dir, 'config'),
      ...extra,
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Resolves with the first match of PATTERN in what GET returns, polling every 50 ms. */
export async function waitFor(
  get: () => string,
  pattern: RegExp,
  timeoutMs = 20_000,
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = get().match(pattern);
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} in: ${get()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The link `clavis login` prints. */
export const LINK = /(https?:\/\/\S+\/device\?user_code=[A-Z-]+)/;
