/**
 * A secretlint rule for Clavis API keys. A match of the key's shape is reported only when its
 * checksum verifies (the scanner marks its findings `verified: true`): the checksum is what lets a scanner tell a key
 * from noise offline, so a shape whose checksum fails (one chance in 62⁶ for random text) is not
 * reported at all. Imports only @clavis/core: loading it loads neither the server nor the SDK.
 */
import { API_KEY_PATTERN, checkApiKey } from '@clavis/core';
import type { SecretLintRuleCreator } from '@secretlint/types';

export const KEY_RULE_ID = '@clavis/secretlint-rule-clavis-api-key';

const messages = {
  ClavisApiKey: {
    en: (props?: { KEY?: string }) => `found a Clavis API key with a valid checksum: ${props?.KEY ?? ''}`,
  },
};

export const clavisKeyRule: SecretLintRuleCreator = {
  messages,
  meta: {
    id: KEY_RULE_ID,
    type: 'scanner',
    recommended: true,
    supportedContentTypes: ['text'],
  },
  create(context) {
    const t = context.createTranslator(messages);
    return {
      file(source) {
        // A cheap test first: most files hold no `clv_` at all.
        if (!source.content.includes('clv_')) return;
        for (const match of source.content.matchAll(API_KEY_PATTERN)) {
          if (checkApiKey(match[0]) !== 'valid') continue;
          const start = match.index;
          context.report({
            message: t('ClavisApiKey', { KEY: match[0] }),
            range: [start, start + match[0].length],
          });
        }
      },
    };
  },
};
