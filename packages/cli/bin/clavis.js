#!/usr/bin/env node
// The installed `clavis` command. Plain JavaScript so the link exists before the first build; the
// program itself is compiled TypeScript in ../dist.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    'clavis: not built yet: run `npm run build` (or `npm start`) in the repository first\n',
  );
  process.exit(1);
}
await import(entry.href);
