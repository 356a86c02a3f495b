/**
 * Splits a command line into argv the way a POSIX shell would for words and quoting — single quotes,
 * double quotes (with `\"`, `\\`, `\$`, `` \` `` escapes), backslash escapes, whitespace separation — and
 * nothing else: no variables, globs, pipes or redirections, because the command runs without a shell.
 *
 * @example
 * ```ts
 * splitCommandLine(`vault kv get -field=key "secret/ci bot"`);
 * // ['vault', 'kv', 'get', '-field=key', 'secret/ci bot']
 * ```
 */
import { ClavisError } from './errors.js';

/**
 * Splits `line` into argv; an unterminated quote or an empty line is `invalid_configuration`.
 *
 * @example
 * ```ts
 * const [program, ...args] = splitCommandLine(process.env.CLAVIS_API_KEY_COMMAND ?? '');
 * ```
 */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const fail = (why: string): never => {
    throw new ClavisError('invalid_configuration', `CLAVIS_API_KEY_COMMAND: ${why}`);
  };
  while (i < line.length) {
    const c = line[i] as string;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) fail('unterminated single quote');
      word += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      inWord = true;
      i++;
      for (;;) {
        if (i >= line.length) fail('unterminated double quote');
        const d = line[i] as string;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\' && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1] as string)) {
          if (line[i + 1] !== '\n') word += line[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
    } else if (c === '\\') {
      if (i + 1 >= line.length) fail('trailing backslash');
      if (line[i + 1] !== '\n') {
        word += line[i + 1];
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  if (words.length === 0) fail('empty command');
  return words;
}
