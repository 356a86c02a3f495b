#!/usr/bin/env node
// The dependency rule, checked: inside packages/server/src a module imports only from its own layer or
// the layers below it, the folders of one layer import each other without cycles, and no package reaches
// into another package's src/ by a relative path (packages import each other by name).
// Prints one line per violation and exits 1; `--graph` also prints the folder-level import edges.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const serverSrc = join(root, 'packages/server/src');

// Top to bottom. A unit is a folder of packages/server/src, or a file at its top level (without `.ts`).
// Keep in step with the Architecture section of README.md.
const layers = [
  ['index', 'runtime'],
  ['app'],
  ['endpoints', 'pages', 'admin'],
  ['grants'],
  ['client_auth'],
  ['clients', 'users', 'device', 'refresh', 'api_keys', 'federation', 'tokens'],
  ['http'],
  ['audit'],
  ['storage', 'crypto', 'config'],
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

for (const file of sourceFiles(serverSrc)) {
  const from = unitOf(file);
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
const unplaced = new Set();
for (const [from, targets] of edges) {
  for (const to of targets.keys()) {
    for (const unit of [from, to]) {
      if (!layerOf.has(unit) && !unplaced.has(unit)) {
        unplaced.add(unit);
        violations.push(`${where(from, to)}: ${unit} is in no layer (place it in scripts/check_layers.mjs)`);
      }
    }
    if (layerOf.has(from) && layerOf.has(to) && layerOf.get(to) < layerOf.get(from)) {
      violations.push(`${where(from, to)}: ${from} imports ${to}, a layer above it`);
    }
  }
}

// Folder cycles (within a layer; across layers the check above already fires): Tarjan's components.
let counter = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
function connect(unit) {
  index.set(unit, counter);
  low.set(unit, counter);
  counter += 1;
  stack.push(unit);
  onStack.add(unit);
  for (const next of edges.get(unit)?.keys() ?? []) {
    if (!index.has(next)) {
      connect(next);
      low.set(unit, Math.min(low.get(unit), low.get(next)));
    } else if (onStack.has(next)) {
      low.set(unit, Math.min(low.get(unit), index.get(next)));
    }
  }
  if (low.get(unit) === index.get(unit)) {
    const component = [];
    let member;
    do {
      member = stack.pop();
      onStack.delete(member);
      component.push(member);
    } while (member !== unit);
    if (component.length > 1) {
      const members = component.sort();
      const via = members.flatMap((a) =>
        members.filter((b) => edges.get(a)?.has(b)).map((b) => `${a}→${b} (${where(a, b)})`),
      );
      violations.push(`packages/server/src: folder cycle ${members.join(', ')}: ${via.join('; ')}`);
    }
  }
}
for (const unit of [...edges.keys()].sort()) if (!index.has(unit)) connect(unit);

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

if (process.argv.includes('--graph')) {
  for (const [from, targets] of [...edges].sort()) {
    console.log(`${from} → ${[...targets.keys()].sort().join(', ')}`);
  }
}
for (const line of violations) console.error(line);
process.exit(violations.length > 0 ? 1 : 0);
