/** A JWKS file named on the command line (`--jwks-file`), read with a size limit and parsed. */
import { readFile, stat } from 'node:fs/promises';
import { CliError } from '../../errors.js';

/** The largest JWKS file read: a real one is a few KiB. */
export const MAX_JWKS_FILE_BYTES = 256 * 1024;

export async function readJwksFile(path: string): Promise<unknown> {
  let text: string;
  try {
    // Checked before reading: a mistaken path to a large file is refused without loading it.
    if ((await stat(path)).size > MAX_JWKS_FILE_BYTES) throw new CliError(`JWKS file ${path} is too large`);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read JWKS file ${path}`);
  }
  if (Buffer.byteLength(text) > MAX_JWKS_FILE_BYTES) throw new CliError(`JWKS file ${path} is too large`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CliError(`JWKS file ${path} is not valid JSON`);
  }
}
