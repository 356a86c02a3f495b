/** `clavis admin [--db URL | --server URL] …` */
import type { Command } from 'commander';
import type { Io } from '../../io.js';
import { registerAudit } from './audit.js';
import { registerBackup } from './backup.js';
import { registerClients } from './clients.js';
import { registerFederations } from './federations.js';
import { registerIdps } from './idps.js';
import { registerInit } from './init.js';
import { registerKek } from './kek.js';
import { registerKeys } from './keys.js';
import { registerPosture } from './posture.js';
import { registerSigningKeys } from './signing_keys.js';
import { registerUsers } from './users.js';

export function registerAdmin(program: Command, io: Io): void {
  const admin = program
    .command('admin')
    .description(
      'administer clients, people, API keys, federations, identity providers, the audit log, signing keys, the KEK and the posture report',
    )
    .option('--db <url>', "the server's database: sqlite:PATH or postgres://… (env CLAVIS_DB)")
    .option(
      '--server <url>',
      'administer a running server over its admin API, as the administrator signed in with `clavis login --server URL --scope admin` (env CLAVIS_SERVER; CLAVIS_DB wins when both are set)',
    );
  registerInit(admin, io);
  registerClients(admin, io);
  registerAudit(admin, io);
  registerUsers(admin, io);
  registerFederations(admin, io);
  registerIdps(admin, io);
  registerKeys(admin, io);
  registerBackup(admin, io);
  registerSigningKeys(admin, io);
  registerKek(admin, io);
  registerPosture(admin, io);
}
