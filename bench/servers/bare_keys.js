// Launches the bare key-verification server (the machine's limit for API-key verification).
import { fileURLToPath } from 'node:url';
import { forkServer } from '../lib/procs.js';

export const TARGET = 'bare-keys';
export const SCENARIOS = ['verify'];

export async function launch() {
  const proc = await forkServer(TARGET, fileURLToPath(new URL('./bare_keys.child.js', import.meta.url)));
  const url = `http://127.0.0.1:${proc.ready.port}/verify`;
  const key = proc.ready.key;
  return {
    name: TARGET,
    proc,
    notes: [
      'one SHA-256 and one indexed node:sqlite lookup (WAL, 10,000 keys) per request; no authentication',
    ],
    scenarios: [
      {
        name: 'verify',
        label: 'POST key=…, one SHA-256, one indexed SQLite lookup',
        async prepare() {
          return {
            method: 'POST',
            url,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ key, ip: '127.0.0.1' }).toString(),
          };
        },
        check: (json) => (json.active === true ? true : `active is ${json.active}`),
        describe: () => 'key found',
      },
    ],
  };
}
