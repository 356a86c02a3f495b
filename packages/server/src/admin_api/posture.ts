/**
 * `/posture`: the report `clavis admin posture --json` prints, over the live state, with the policy's
 * thresholds as query parameters. The CLI renders text, SARIF and HTML from this JSON.
 */
import { defaultPolicy, type PosturePolicy } from '../posture/finding.js';
import { postureJson } from '../posture/json_report.js';
import { postureReport } from '../posture/report.js';
import type { ResourceDeps } from './deps.js';
import { type AdminRoute, route } from './route.js';
import { postureReportSchema } from './schemas.js';

const TAG = 'posture';
const threshold = { type: 'integer', minimum: 0, maximum: 10 * 365 * 86_400 };

interface Thresholds {
  rotation_age_seconds?: number;
  unused_seconds?: number;
  expiry_warning_seconds?: number;
  stale_sign_in_seconds?: number;
  window_seconds?: number;
}

function policyOf(q: Thresholds): PosturePolicy {
  const ms = (seconds: number | undefined, fallback: number) =>
    seconds === undefined ? fallback : seconds * 1000;
  return {
    rotationAgeMs: ms(q.rotation_age_seconds, defaultPolicy.rotationAgeMs),
    unusedMs: ms(q.unused_seconds, defaultPolicy.unusedMs),
    expiryWarningMs: ms(q.expiry_warning_seconds, defaultPolicy.expiryWarningMs),
    staleSignInMs: ms(q.stale_sign_in_seconds, defaultPolicy.staleSignInMs),
    windowMs: ms(q.window_seconds, defaultPolicy.windowMs),
  };
}

export function postureRoutes(deps: ResourceDeps): AdminRoute[] {
  return [
    route<unknown, Thresholds, unknown>({
      method: 'GET',
      url: '/posture',
      operationId: 'postureReport',
      summary:
        'Findings over the live state, worst first, each with its fix; thresholds in seconds (clavis admin posture --json)',
      tag: TAG,
      access: 'read',
      schema: {
        querystring: {
          type: 'object',
          properties: {
            rotation_age_seconds: threshold,
            unused_seconds: threshold,
            expiry_warning_seconds: threshold,
            stale_sign_in_seconds: threshold,
            window_seconds: threshold,
          },
          additionalProperties: false,
        },
        responses: { 200: { description: 'The report', schema: postureReportSchema } },
      },
      handler: async ({ query }) => {
        const report = await postureReport(
          { db: deps.admin.db, auditKey: deps.auditKey, clock: deps.admin.clock },
          policyOf(query),
          { assertionAudienceFallback: deps.assertionAudience },
        );
        return { status: 200, body: postureJson(report) };
      },
    }),
  ];
}
