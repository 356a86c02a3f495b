/**
 * The scanner's test corpus, written at test time into a scratch folder: real-format Clavis keys (made
 * by the core generator, never committed), near misses (a key with a wrong checksum), other vendors'
 * tokens the recommended preset finds, and harmless high-entropy text that must not be reported.
 */
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BASE62_ALPHABET, generateApiKey } from '@clavis/core';

/** A key with its last checksum character changed: the shape of a key, not a key. */
export function nearMiss(key = generateApiKey()): string {
  const last = key.at(-1) as string;
  const other = BASE62_ALPHABET[(BASE62_ALPHABET.indexOf(last) + 1) % 62] as string;
  return key.slice(0, -1) + other;
}

const randomFrom = (alphabet: string, n: number): string =>
  Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join('');

/** Shapes of other vendors' secrets, random each time. */
export const vendor = {
  awsSecret: (): string => randomBytes(30).toString('base64'),
  githubToken: (): string => `ghp_${randomFrom(BASE62_ALPHABET, 36)}`,
  privateKeyPem: (): string =>
    generateKeyPairSync('rsa', { modulusLength: 1024 })
      .privateKey.export({ type: 'pkcs1', format: 'pem' })
      .toString(),
};

export interface Corpus {
  /** Verified keys and where they are (file relative to the corpus root, 1-based line). */
  keys: Array<{ key: string; file: string; line: number }>;
  nearMisses: string[];
  /** Files (relative) where the preset must report, with the rule's short name. */
  vendorFindings: Array<{ file: string; rule: string }>;
}

function put(root: string, file: string, content: string | Buffer): void {
  const path = join(root, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** Writes the corpus under `root`. */
export function writeCorpus(root: string): Corpus {
  const envKey = generateApiKey();
  const codeKey = generateApiKey();
  const misses = [nearMiss(), nearMiss()];
  put(root, 'deploy/.env', `# deployment\nCLAVIS_API_KEY=${envKey}\nREGION=eu-west-1\n`);
  put(
    root,
    'src/client.ts',
    `import { connect } from './net';\n\nexport const client = connect({\n  apiKey: '${codeKey}',\n});\n`,
  );
  put(root, 'docs/near_miss.md', `A key-shaped string: \`${misses[0]}\`\n\nAnother: ${misses[1]}\n`);
  put(root, 'config/aws.ini', `[default]\naws_secret_access_key = ${vendor.awsSecret()}\n`);
  put(root, 'scripts/release.sh', `#!/bin/sh\nexport GITHUB_TOKEN=${vendor.githubToken()}\n`);
  put(root, 'keys/service.pem', vendor.privateKeyPem());
  put(
    root,
    'data/noise.txt',
    [
      `sha256: ${randomBytes(32).toString('hex')}`,
      `id: ${randomUUID()}`,
      `nonce = "${randomBytes(24).toString('base64url')}"`,
      `integrity: sha512-${randomBytes(64).toString('base64')}`,
      `prefix only: clv_ and clv_short and clv_${randomFrom(BASE62_ALPHABET, 35)}`,
      `embedded: x${generateApiKey()}`,
      '',
    ].join('\n'),
  );
  put(
    root,
    'assets/logo.png',
    Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0]), Buffer.from(generateApiKey())]),
  );
  put(root, 'node_modules/dep/index.js', `module.exports = '${generateApiKey()}';\n`);
  return {
    keys: [
      { key: envKey, file: 'deploy/.env', line: 2 },
      { key: codeKey, file: 'src/client.ts', line: 4 },
    ],
    nearMisses: misses,
    vendorFindings: [
      { file: 'config/aws.ini', rule: 'aws' },
      { file: 'keys/service.pem', rule: 'privatekey' },
      { file: 'scripts/release.sh', rule: 'github' },
    ],
  };
}
