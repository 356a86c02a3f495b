/**
 * The User-Agent the SDK sends when it refreshes a person's login: `clavis-sdk/VERSION`, and ` ci/VENDOR`
 * when it runs in CI. The server records it with the refresh, so the posture report can name people
 * whose tokens are refreshed from CI runners (allowed only with CLAVIS_ALLOW_PERSONAL_TOKEN_IN_CI=1).
 */
import type { DetectedContext } from './context.js';

export const SDK_VERSION = '0.1.0';

export function sdkUserAgent(context: Pick<DetectedContext, 'ci'>): string {
  return `clavis-sdk/${SDK_VERSION}${context.ci ? ` ci/${context.ci}` : ''}`;
}
