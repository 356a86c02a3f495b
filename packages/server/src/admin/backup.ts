/**
 * A consistent snapshot of an SQLite database (`VACUUM INTO`: one read transaction, so a write running
 * meanwhile is either wholly in the copy or not at all — never a bare copy of a WAL file), to a new file
 * readable by its owner only. PostgreSQL is backed up with its own tools: `postgresBackupCommand` says
 * what to run.
 */
import { closeSync, fsyncSync, openSync, statSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Kysely, sql } from 'kysely';
import type { AuditLog } from '../audit/audit_log.js';
import { type DialectName, parseDatabaseUrl } from '../storage/database.js';
import type { Database } from '../storage/schema.js';
import { type Actor, actorFields, recordingRefusal } from './actor.js';
import { AdminError } from './errors.js';

export interface BackupDeps {
  db: Kysely<Database>;
  dialect: DialectName;
  audit: AuditLog;
  clock: () => number;
}

export interface BackupResult {
  file: string;
  bytes: number;
  /** When the snapshot was taken (ms): what a restore brings back is the state at this time. */
  takenAt: number;
}

/** Creates `file` empty, exclusively, 0600: refuses an existing file, and no one else can read it. */
function createEmpty(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'EEXIST') throw new AdminError(`${file} exists: refusing to overwrite it`, 'conflict');
    if (code === 'ENOENT') throw new AdminError(`directory ${dirname(file)} does not exist`, 'invalid_input');
    if (code === 'EACCES') throw new AdminError(`cannot create ${file}: permission denied`, 'invalid_input');
    throw err;
  }
  closeSync(fd);
}

function fsyncFile(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Snapshots the SQLite database into `file` (a new file, 0600), and records it. */
export function backupDatabase(deps: BackupDeps, file: string, actor: Actor): Promise<BackupResult> {
  const target = resolve(file);
  return recordingRefusal(deps.audit, { event: 'database.backup', actor, target: { file: target } }, () =>
    backupUnrecorded(deps, target, actor),
  );
}

async function backupUnrecorded(deps: BackupDeps, file: string, actor: Actor): Promise<BackupResult> {
  if (deps.dialect !== 'sqlite') {
    throw new AdminError(
      'only an SQLite database is backed up by clavis; use pg_dump for PostgreSQL',
      'invalid_input',
    );
  }
  createEmpty(file);
  const takenAt = deps.clock();
  try {
    // VACUUM INTO writes into an empty existing file, keeping its mode; the snapshot is one read
    // transaction of this connection, consistent whatever other connections and processes write.
    await sql`vacuum into ${file}`.execute(deps.db);
    fsyncFile(file);
  } catch (err) {
    unlinkSync(file);
    throw err;
  }
  const bytes = statSync(file).size;
  await deps.audit.record({
    event: 'database.backup',
    ...actorFields(actor),
    detail: { file, bytes, taken_at: new Date(takenAt).toISOString() },
  });
  return { file, bytes, takenAt };
}

/**
 * What to run to back up a PostgreSQL database: `pg_dump` in its custom format, of the schema Clavis
 * uses when the URL names one. The URL is printed without its password (pg_dump reads PGPASSWORD or
 * ~/.pgpass).
 */
export function postgresBackupCommand(dbUrl: string, file: string): string {
  const parsed = parseDatabaseUrl(dbUrl);
  if (parsed.dialect !== 'postgres') throw new AdminError('not a PostgreSQL URL', 'invalid_input');
  const url = new URL(parsed.target);
  url.password = '';
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const schema = parsed.schema ? ` --schema ${quote(parsed.schema)}` : '';
  return `pg_dump --format=custom --no-owner${schema} --file ${quote(file)} ${quote(url.toString())}`;
}
