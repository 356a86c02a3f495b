/**
 * What a scan reads, as a stream of entries: files under paths, the blobs of a repository's history,
 * the staged blobs of the next commit, or standard input. An entry is named (`file`, and `commit` for
 * history) and loaded only when the scanner gets to it.
 */
import { lstat, opendir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { catFileBatch, git, insideWorkTree } from './git.js';
import { ScanError } from './scan_error.js';

export interface ScanEntry {
  file: string;
  commit?: string;
  /** Bytes; a larger entry than the scan's limit is counted as skipped and not loaded. */
  size: number;
  /** The content; null when it vanished or cannot be read (counted as unreadable). */
  load(): Promise<Buffer | null>;
}

/** Folders a walk outside git never enters: dependencies and git's own store. */
const SKIPPED_DIRS = new Set(['node_modules', '.git']);

const fileEntry = (file: string, path: string, size: number): ScanEntry => ({
  file,
  size,
  load: () => readFile(path).catch(() => null),
});

/**
 * The files under `paths` (relative ones taken from `cwd`, and shown as given). A file named explicitly
 * is always read, and so is an ignored folder named explicitly. A folder inside a git work tree gives the files git would commit (tracked, plus
 * untracked ones .gitignore does not exclude); outside git, every file under it except in
 * `node_modules` and `.git`. Symbolic links are not followed.
 */
export async function* pathEntries(paths: readonly string[], cwd: string): AsyncGenerator<ScanEntry> {
  for (const given of paths) {
    const path = resolve(cwd, given);
    const stat = await lstat(path).catch(() => null);
    if (stat === null) throw new ScanError(`no such file or directory: ${given}`);
    if (stat.isFile()) yield fileEntry(given, path, stat.size);
    else if (stat.isDirectory()) {
      const files = (await gitDecides(path)) ? gitListedFiles(path) : walk(path);
      for await (const name of files) {
        const s = await lstat(join(path, name)).catch(() => null);
        if (s?.isFile()) yield fileEntry(join(given, name), join(path, name), s.size);
      }
    }
  }
}

/**
 * Whether git's list of files applies to the folder: inside a work tree, unless the folder itself is
 * ignored (`clavis scan node_modules/x` named it on purpose: then it is walked).
 */
async function gitDecides(dir: string): Promise<boolean> {
  if (!(await insideWorkTree(dir))) return false;
  return git(['check-ignore', '-q', '.'], dir).then(
    () => false,
    () => true,
  );
}

/** The files git would commit under `dir`, relative to it. */
async function* gitListedFiles(dir: string): AsyncGenerator<string> {
  const out = await git(['ls-files', '-z', '--cached', '--others', '--exclude-standard'], dir);
  const seen = new Set<string>();
  for (const name of out.toString().split('\0')) {
    // A file with a merge conflict is listed once per stage.
    if (name === '' || seen.has(name)) continue;
    seen.add(name);
    yield name;
  }
}

/** The files under `root` (relative to it), outside `node_modules` and `.git`. */
async function* walk(root: string, sub = ''): AsyncGenerator<string> {
  let handle: Awaited<ReturnType<typeof opendir>>;
  try {
    handle = await opendir(join(root, sub));
  } catch {
    return; // an unreadable folder: nothing to list
  }
  const folders: string[] = [];
  for await (const entry of handle) {
    const name = sub ? join(sub, entry.name) : entry.name;
    if (entry.isFile()) yield name;
    else if (entry.isDirectory() && !SKIPPED_DIRS.has(entry.name)) folders.push(name);
  }
  for (const folder of folders) yield* walk(root, folder);
}

interface BlobRef {
  sha: string;
  path: string;
  commit?: string;
}

const ZERO_SHA = /^0+$/;

/** Blob lines of `git log --raw` / `git diff --raw`: `:MODE MODE SHA SHA STATUS`. */
function blobOf(meta: string): string | null {
  const [, mode, , sha, status] = meta.split(' ');
  if (!sha || ZERO_SHA.test(sha) || mode === '160000' || status?.startsWith('D')) return null;
  return sha;
}

/**
 * Every blob reachable from every ref, once, with the oldest commit (in `git log --reverse` order) that
 * added it and the path it had there. `git log --all -m --raw` lists what each commit changed against
 * each parent (merges included, the root commit against nothing), so a blob that was added and later
 * deleted is still found, at the commit that introduced it; `git cat-file --batch` then streams them.
 */
export async function* historyEntries(dir: string, maxBytes: number): AsyncGenerator<ScanEntry> {
  const root = await repositoryRoot(dir);
  const log = await git(
    [
      '-c',
      'core.quotePath=false',
      'log',
      '--all',
      '-m',
      '--reverse',
      '--raw',
      '--no-abbrev',
      '--no-renames',
      '--format=%x01%H',
    ],
    root,
  );
  const blobs: BlobRef[] = [];
  const seen = new Set<string>();
  let commit = '';
  for (const line of log.toString().split('\n')) {
    if (line.startsWith('\x01')) commit = line.slice(1);
    else if (line.startsWith(':')) {
      const tab = line.indexOf('\t');
      const sha = blobOf(line.slice(0, tab));
      if (sha === null || seen.has(sha)) continue;
      seen.add(sha);
      blobs.push({ sha, path: unquote(line.slice(tab + 1)), commit });
    }
  }
  yield* blobEntries(root, blobs, maxBytes);
}

/** The blobs staged for the next commit (what `git commit` would record), not the working tree's files. */
export async function* stagedEntries(dir: string, maxBytes: number): AsyncGenerator<ScanEntry> {
  const root = await repositoryRoot(dir);
  const out = await git(
    ['diff', '--cached', '--raw', '-z', '--no-abbrev', '--no-renames', '--diff-filter=AMT'],
    root,
  );
  const parts = out.toString().split('\0');
  const blobs: BlobRef[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const sha = blobOf(parts[i] as string);
    if (sha !== null) blobs.push({ sha, path: parts[i + 1] as string });
  }
  yield* blobEntries(root, blobs, maxBytes);
}

async function repositoryRoot(dir: string): Promise<string> {
  if (!(await insideWorkTree(dir))) throw new ScanError(`not inside a git work tree: ${dir}`);
  return (await git(['rev-parse', '--show-toplevel'], dir)).toString().trim();
}

async function* blobEntries(root: string, blobs: BlobRef[], maxBytes: number): AsyncGenerator<ScanEntry> {
  let i = 0;
  for await (const blob of catFileBatch(
    root,
    blobs.map((b) => b.sha),
    maxBytes,
  )) {
    const ref = blobs[i++] as BlobRef;
    const content = blob.content;
    yield {
      file: ref.path,
      ...(ref.commit ? { commit: ref.commit } : {}),
      size: blob.size,
      load: async () => content,
    };
  }
}

/** A path git quoted (`"a\tb"`): the C escapes git uses, undone. */
function unquote(path: string): string {
  if (!path.startsWith('"') || !path.endsWith('"')) return path;
  const escapes: Record<string, string> = { t: '\t', n: '\n', '"': '"', '\\': '\\' };
  return path.slice(1, -1).replace(/\\(["\\tn])/g, (_, c: string) => escapes[c] ?? c);
}

/** Standard input as one entry named `<stdin>`; more than `maxBytes` is read through and dropped. */
export async function* stdinEntries(stdin: Readable, maxBytes: number): AsyncGenerator<ScanEntry> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size <= maxBytes) chunks.push(buf);
  }
  const content = size <= maxBytes ? Buffer.concat(chunks) : null;
  yield { file: '<stdin>', size, load: async () => content };
}
