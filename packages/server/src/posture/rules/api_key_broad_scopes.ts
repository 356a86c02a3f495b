/**
 * A live API key with broad scopes: `admin`, a wildcard, or more scopes than one job needs. A static
 * key is the credential most likely to leak, so it should carry the least.
 */
import type { PostureRule } from '../finding.js';
import { ruleReferences } from '../references.js';
import { describeKey, findingOf } from '../rule.js';

/** More scopes than this on one key is broad. */
export const MAX_KEY_SCOPES = 5;

const isBroad = (scope: string): boolean => scope === 'admin' || scope.includes('*');

export const apiKeyBroadScopes: PostureRule = {
  id: 'api-key-broad-scopes',
  title: 'API key with broad scopes',
  help: `A live API key carrying the admin scope (high), a wildcard scope, or more than ${MAX_KEY_SCOPES} scopes. Narrow it to what its one job needs; a key that needs admin should not be a static key.`,
  severity: 'medium',
  references: ruleReferences['api-key-broad-scopes'],
  evaluate(snapshot) {
    return snapshot.apiKeys.flatMap((key) => {
      const broad = key.scopes.filter(isBroad);
      if (broad.length === 0 && key.scopes.length <= MAX_KEY_SCOPES) return [];
      const keep = key.scopes.filter((s) => !isBroad(s));
      const fix =
        broad.length === 0
          ? `clavis admin keys update ${key.id} --scope SCOPE`
          : keep.length > 0
            ? `clavis admin keys update ${key.id} ${keep.map((s) => `--scope ${s}`).join(' ')}`
            : `clavis admin keys revoke ${key.id} --yes`;
      return [
        findingOf(
          apiKeyBroadScopes,
          { key_id: key.id },
          {
            detail:
              broad.length > 0
                ? `key ${describeKey(key)} carries ${broad.join(', ')}`
                : `key ${describeKey(key)} carries ${key.scopes.length} scopes`,
            fix,
            severity: broad.includes('admin') ? 'high' : 'medium',
          },
        ),
      ];
    });
  },
};
