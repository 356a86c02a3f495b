/**
 * The scanning engine: secretlint's core with its recommended preset and the Clavis key rule, run in
 * this process over one text at a time. Turns secretlint's messages into findings that never carry the
 * secret in clear: the match is masked, and the full secret is kept only in memory (for `--report`).
 */
import { lintSource } from '@secretlint/core';
import { creator as recommendedPreset } from '@secretlint/secretlint-rule-preset-recommend';
import type { SecretLintCoreConfig } from '@secretlint/types';
import { clavisKeyRule, KEY_RULE_ID } from './clavis_key_rule.js';

export type Severity = 'high' | 'medium' | 'low';

/** What is printed, text and `--json` alike. */
export interface Finding {
  /** The rule's short name: `clavis-api-key`, or secretlint's rule without its package prefix (`github`). */
  rule: string;
  severity: Severity;
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** The commit that introduced the content (`--git`). */
  commit?: string;
  message: string;
  /** The match with all but its first characters hidden. */
  match: string;
  /** A Clavis API key whose checksum verifies: a key, not noise. */
  verified?: true;
}

/** A finding and the secret it found, which only `--report` reads. */
export interface Hit {
  finding: Finding;
  secret: string;
}

const PRESET_ID = '@secretlint/secretlint-rule-preset-recommend';

/**
 * The preset includes secretlint's comment filter: `secretlint-disable-line`, `-next-line` and
 * `secretlint-disable … secretlint-enable` comments are the explicit, reviewable allow-list for fixtures
 * that look like secrets.
 */
const config: SecretLintCoreConfig = {
  rules: [
    { id: PRESET_ID, rule: recommendedPreset },
    { id: KEY_RULE_ID, rule: clavisKeyRule },
  ],
};

const SEVERITY: Record<string, Severity> = { error: 'high', warning: 'medium', info: 'low' };

export function shortRuleName(ruleId: string): string {
  if (ruleId === KEY_RULE_ID) return 'clavis-api-key';
  return ruleId.replace(/^@secretlint\/secretlint-rule-/, '').replace(/^secretlint-rule-/, '');
}

/**
 * A secret shown without giving it away: a Clavis key keeps its prefix and two characters (enough to
 * tell keys apart, ≈12 bits of 178); anything else keeps at most four leading characters, none if short.
 */
export function maskSecret(secret: string): string {
  if (secret.startsWith('clv_')) return `clv_${secret.slice(4, 6)}…`;
  const shown = secret.length >= 20 ? 4 : 0;
  return `${secret.slice(0, shown)}…(${secret.length} chars)`;
}

/** Scans one text; `file` is the name findings carry (a path, `<stdin>`, a path at a commit). */
export async function scanText(content: string, file: string, commit?: string): Promise<Hit[]> {
  const result = await lintSource({
    source: { content, filePath: file, contentType: 'text' },
    options: { config, maskSecrets: true, noPhysicFilePath: true },
  });
  return result.messages.map((m) => {
    const secret = content.slice(m.range[0], m.range[1]);
    const verified = m.ruleId === KEY_RULE_ID;
    const finding: Finding = {
      rule: shortRuleName(m.ruleId),
      severity: SEVERITY[m.severity] ?? 'high',
      file,
      line: m.loc.start.line,
      column: m.loc.start.column + 1,
      ...(commit ? { commit } : {}),
      // secretlint masks the secret with as many `*` as it has characters: one run of three is enough.
      message: verified ? 'Clavis API key (checksum verified)' : m.message.replace(/\*{3,}/g, '***'),
      match: maskSecret(secret),
      ...(verified ? { verified: true as const } : {}),
    };
    return { finding, secret };
  });
}
