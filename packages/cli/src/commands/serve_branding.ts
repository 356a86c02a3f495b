/**
 * What the verification pages show about whose server this is, from the environment: the organisation's
 * name (`CLAVIS_ORG_NAME`), its logo (`CLAVIS_ORG_LOGO_FILE`: a PNG, SVG, JPEG or WebP file of at most
 * 64 KiB, served by the server itself so the pages' CSP stays `img-src 'self'`), and words for the
 * operator's own scopes (`CLAVIS_SCOPE_DESCRIPTIONS_FILE`: a JSON object, scope → description).
 */
import { readFileSync } from 'node:fs';
import {
  ConfigError,
  logoContentType,
  MAX_LOGO_BYTES,
  type PageLogo,
  resolveConfig,
  type ServerConfig,
} from '@clavis/server';
import { CliError } from '../errors.js';
import type { Env } from '../io.js';

type Branding = Pick<ServerConfig, 'organisationName' | 'logo' | 'scopeDescriptions'>;

function readSmallFile(name: string, path: string, max: number): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new CliError(
      `${name}: cannot read ${path.slice(0, 200)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  if (bytes.length > max) throw new CliError(`${name}: the file is larger than ${max / 1024} KiB`);
  return bytes;
}

function logoOf(path: string): PageLogo {
  const contentType = logoContentType(path);
  if (!contentType) throw new CliError('CLAVIS_ORG_LOGO_FILE: must be a .png, .svg, .jpg or .webp file');
  return { contentType, bytes: readSmallFile('CLAVIS_ORG_LOGO_FILE', path, MAX_LOGO_BYTES) };
}

function scopeDescriptionsOf(path: string): Record<string, string> {
  const text = readSmallFile('CLAVIS_SCOPE_DESCRIPTIONS_FILE', path, 64 * 1024).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError('CLAVIS_SCOPE_DESCRIPTIONS_FILE: not JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new CliError('CLAVIS_SCOPE_DESCRIPTIONS_FILE: must be a JSON object of scope → description');
  const out: Record<string, string> = {};
  for (const [scope, words] of Object.entries(parsed)) {
    if (typeof words !== 'string')
      throw new CliError(
        `CLAVIS_SCOPE_DESCRIPTIONS_FILE: the description of "${scope.slice(0, 64)}" is not a string`,
      );
    out[scope] = words;
  }
  return out;
}

/** The pages' branding from the environment; the first bad value is a CliError naming its variable. */
export function pageBranding(env: Env): Branding {
  const branding: Branding = {
    ...(env.CLAVIS_ORG_NAME ? { organisationName: env.CLAVIS_ORG_NAME } : {}),
    ...(env.CLAVIS_ORG_LOGO_FILE ? { logo: logoOf(env.CLAVIS_ORG_LOGO_FILE) } : {}),
    ...(env.CLAVIS_SCOPE_DESCRIPTIONS_FILE
      ? { scopeDescriptions: scopeDescriptionsOf(env.CLAVIS_SCOPE_DESCRIPTIONS_FILE) }
      : {}),
  };
  try {
    resolveConfig({ issuer: 'http://localhost', ...branding });
  } catch (err) {
    if (err instanceof ConfigError) {
      const name = /organisation name/.test(err.message)
        ? 'CLAVIS_ORG_NAME'
        : /logo/.test(err.message)
          ? 'CLAVIS_ORG_LOGO_FILE'
          : 'CLAVIS_SCOPE_DESCRIPTIONS_FILE';
      throw new CliError(`${name}: ${err.message}`);
    }
    throw err;
  }
  return branding;
}
