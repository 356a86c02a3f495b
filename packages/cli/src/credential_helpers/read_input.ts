/** Reading a credential helper's standard input: whole, as UTF-8, and never more than a bound. */
import type { Readable } from 'node:stream';
import { CredentialHelperError } from './errors.js';

/** What any helper protocol needs is a few hundred bytes; 64 KiB leaves room and bounds a runaway writer. */
export const maxHelperInputBytes = 64 * 1024;

/**
 * Reads STREAM to its end and decodes it as UTF-8. Stops reading, and throws `input_too_large`, as soon as
 * more than MAX_BYTES have arrived; throws `input_not_utf8` for bytes that are not UTF-8.
 */
export async function readHelperInput(stream: Readable, maxBytes = maxHelperInputBytes): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += bytes.length;
    if (size > maxBytes)
      throw new CredentialHelperError('input_too_large', `input exceeds ${maxBytes} bytes`);
    chunks.push(bytes);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch (cause) {
    throw new CredentialHelperError('input_not_utf8', 'input is not UTF-8', { cause });
  }
}
