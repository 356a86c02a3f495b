/**
 * The README's runnable examples: every block fenced ```sh, in order, with the heading it sits under.
 * Blocks fenced otherwise (```console, ```text, ```yaml, a bare ```) are not run.
 */

export interface ShellBlock {
  /** 1-based line of the opening fence in the README. */
  line: number;
  /** The nearest Markdown heading above the block. */
  heading: string;
  code: string;
}

export class UnterminatedBlock extends Error {
  constructor(readonly line: number) {
    super(`README line ${line}: a fenced block is never closed`);
  }
}

export function shellBlocks(markdown: string): ShellBlock[] {
  const blocks: ShellBlock[] = [];
  const lines = markdown.split('\n');
  let heading = '(top)';
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] ?? '';
    const fence = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(text);
    if (!fence) {
      const title = /^#{1,6}\s+(.*)$/.exec(text);
      if (title) heading = title[1] ?? heading;
      continue;
    }
    const marker = fence[2] ?? '```';
    const info = (fence[3] ?? '').trim().split(/\s+/)[0];
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i] ?? '').trim().startsWith(marker); i++) body.push(lines[i] ?? '');
    if (i >= lines.length) throw new UnterminatedBlock(start + 1);
    if (info === 'sh') blocks.push({ line: start + 1, heading, code: `${body.join('\n')}\n` });
  }
  return blocks;
}

/**
 * OAuth error codes in a block's output that the block itself does not show: an example that shows
 * `{"error":"access_denied",…}` expects that refusal; any other error means the example broke.
 */
export function unexpectedErrors(block: ShellBlock, output: string): string[] {
  const shown = new Set([...block.code.matchAll(/"error":\s*"([a-z_]+)"/g)].map((m) => m[1]));
  const found = [...output.matchAll(/"error":\s*"([a-z_]+)"/g)].map((m) => m[1] ?? '');
  return [...new Set(found)].filter((code) => !shown.has(code));
}
