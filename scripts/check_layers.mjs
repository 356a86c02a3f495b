#!/usr/bin/env node
// The dependency rule, checked: inside packages/server/src a module imports only from its own layer or
// the layers below it, the folders of one layer import each other without cycles, and no package reaches
// into another package's src/ by a relative path (packages import each other by name).
// Prints one line per violation and exits 1; `--graph` also prints the folder-level import edges.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const serverSrc = join(root, 'packages/server/src');

// Top to bottom. A unit is a folder of packages/server/src, or a file at its top level (without `.ts`).
// Keep in step with the Architecture section of README.md.
const layers = [
  ['index'],
  ['runtime'],
  ['app'],
  ['endpoints', 'pages', 'admin', 'admin_api', 'posture'],
  ['grants'],
  [
    'client_auth',
    'clients',
    'users',
    'idps',
    'device',
    'refresh',
    'api_keys',
    'federation',
    'tokens',
    'config',
  ],
  ['http'],
  ['audit'],
  ['storage', 'crypto', 'metrics'],
];
const layerOf = new Map(layers.flatMap((units, index) => units.map((unit) => [unit, index])));

const importPattern =
  /(?:^|[\s;}])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+?\s+from\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function sourceFiles(dir) {
  const files = [];
  for (const entry of readdirSync(dir)) {
    if (entry === 'node_modules' || entry === 'dist') continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
    else if (/\.(ts|mts|js|mjs)$/.test(entry) && !entry.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

function specifiers(file) {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|(^|[^:])\/\/.*$/gm, '$1');
  return [...text.matchAll(importPattern)].map((match) => match[1] ?? match[2]);
}

function unitOf(file) {
  const [first, ...rest] = relative(serverSrc, file).split(sep);
  return rest.length === 0 ? first.replace(/\.[cm]?[jt]s$/, '') : first;
}

const violations = [];
const edges = new Map(); // unit -> Map(unit -> first importing file)

const unplaced = new Set();
for (const file of sourceFiles(serverSrc)) {
  const from = unitOf(file);
  if (!layerOf.has(from) && !unplaced.has(from)) {
    unplaced.add(from);
    violations.push(`${relative(root, file)}: ${from} is in no layer (place it in scripts/check_layers.mjs)`);
  }
  for (const specifier of specifiers(file)) {
    if (!specifier.startsWith('.')) continue;
    const target = resolve(dirname(file), specifier);
    if (!target.startsWith(serverSrc + sep)) continue;
    const to = unitOf(target);
    if (to === from) continue;
    if (!edges.has(from)) edges.set(from, new Map());
    if (!edges.get(from).has(to)) edges.get(from).set(to, relative(root, file));
  }
}

const where = (from, to) => edges.get(from).get(to);
for (const [from, targets] of edges) {
  for (const to of targets.keys()) {
    if (layerOf.has(from) && layerOf.has(to) && layerOf.get(to) < layerOf.get(from)) {
      violations.push(`${where(from, to)}: ${from} imports ${to}, a layer above it`);
    }
  }
}

// Folder cycles among the imports that respect the layers (an upward import is reported above): for each
// strongly connected group of folders, one shortest cycle through it, with the file behind each arrow.
const downward = (from, to) => !(layerOf.get(to) < layerOf.get(from));
const next = (unit) => [...(edges.get(unit)?.keys() ?? [])].filter((to) => downward(unit, to)).sort();
const reaches = (from) => {
  const seen = new Set([from]);
  const queue = [from];
  while (queue.length > 0) {
    for (const to of next(queue.shift())) {
      if (seen.has(to)) continue;
      seen.add(to);
      queue.push(to);
    }
  }
  return seen;
};
const reported = new Set();
for (const unit of [...edges.keys()].sort()) {
  if (reported.has(unit)) continue;
  const fromUnit = reaches(unit);
  const group = [...fromUnit].filter((other) => other !== unit && reaches(other).has(unit));
  if (group.length === 0) continue;
  for (const member of [unit, ...group]) reported.add(member);
  // Shortest path back to `unit`, breadth first.
  const previous = new Map();
  const queue = [unit];
  while (queue.length > 0 && !previous.has(unit)) {
    const at = queue.shift();
    for (const to of next(at)) {
      if (previous.has(to)) continue;
      previous.set(to, at);
      if (to === unit) break;
      queue.push(to);
    }
  }
  const cycle = [unit];
  for (let at = previous.get(unit); at !== unit; at = previous.get(at)) cycle.unshift(at);
  cycle.unshift(unit);
  const arrows = cycle.slice(1).map((to, i) => `${cycle[i]}→${to} (${where(cycle[i], to)})`);
  violations.push(`packages/server/src: folder cycle ${cycle.join(' → ')}: ${arrows.join('; ')}`);
}

// Packages import each other by name, never by a relative path into another package's src/.
const packagesDir = join(root, 'packages');
for (const pkg of readdirSync(packagesDir)) {
  const pkgDir = join(packagesDir, pkg);
  if (!statSync(pkgDir).isDirectory()) continue;
  for (const file of sourceFiles(pkgDir)) {
    for (const specifier of specifiers(file)) {
      if (!specifier.startsWith('.')) continue;
      const parts = relative(packagesDir, resolve(dirname(file), specifier)).split(sep);
      if (parts[0] !== pkg && parts[0] !== '..' && parts[1] === 'src') {
        violations.push(`${relative(root, file)}: imports ${specifier}; import @clavis/${parts[0]} by name`);
      }
    }
  }
}

// What CLI authors ship never pulls in the server: core and the SDK import neither it nor the CLI.
const mustNotImport = {
  core: ['@clavis/sdk', '@clavis/server', '@clavis/cli'],
  sdk: ['@clavis/server', '@clavis/cli'],
};
for (const [pkg, names] of Object.entries(mustNotImport)) {
  const src = join(packagesDir, pkg, 'src');
  if (!existsSync(src)) continue;
  for (const file of sourceFiles(src)) {
    for (const specifier of specifiers(file)) {
      if (names.some((name) => specifier === name || specifier.startsWith(`${name}/`))) {
        violations.push(
          `${relative(root, file)}: imports ${specifier}; @clavis/${pkg} must not depend on it`,
        );
      }
    }
  }
}

if (process.argv.includes('--graph')) {
  for (const [from, targets] of [...edges].sort()) {
    console.log(`${from} → ${[...targets.keys()].sort().join(', ')}`);
  }
}
for (const line of violations) console.error(line);
if (violations.length === 0) {
  const count = [...edges.values()].reduce((n, targets) => n + targets.size, 0);
  console.log(
    `layers ok: ${edges.size} folders importing, ${count} folder-level imports, none upward or in a cycle`,
  );
}
process.exit(violations.length > 0 ? 1 : 0);
