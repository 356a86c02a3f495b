// Launches the bare signing server and describes its one scenario.
import { fileURLToPath } from 'node:url';
import { forkServer } from '../lib/procs.js';

export const TARGET = 'bare';
export const SCENARIOS = ['token'];

export async function launch() {
  const proc = await forkServer(TARGET, fileURLToPath(new URL('./bare.child.js', import.meta.url)));
  const url = `http://127.0.0.1:${proc.ready.port}/token`;
  return {
    name: TARGET,
    proc,
    notes: ['one Ed25519 JWT signature per request with node:crypto; the body is read but not parsed'],
    scenarios: [
      {
        name: 'token',
        label: 'POST, read body, sign one EdDSA JWT',
        async prepare() {
          return {
            method: 'POST',
            url,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: 'grant_type=client_credentials&scope=read',
          };
        },
        check: (json) => (typeof json.access_token === 'string' ? true : 'no access_token'),
        describe: () => 'access token: JWT alg=EdDSA',
      },
    ],
  };
}
