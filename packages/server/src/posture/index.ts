/** The posture engine: findings over the live state, mapped to the frameworks, with the fix for each. */
export {
  days,
  defaultPolicy,
  type Finding,
  type FindingSubject,
  type PosturePolicy,
  type PostureRule,
  type Severity,
  severities,
  severityRank,
} from './finding.js';
export { postureHtml } from './html_report.js';
export { type PostureJson, postureFromJson, postureJson } from './json_report.js';
export { type PostureRuleId, referenceNames, ruleReferences } from './references.js';
export {
  ageBands,
  type CredentialAges,
  type CredentialKind,
  credentialAges,
  credentialKinds,
  evaluatePosture,
  type PostureDeps,
  type PostureReport,
  type PostureSummary,
  postureReport,
  score,
  severityWeights,
} from './report.js';
export { postureRules } from './rules/index.js';
export { postureSarif, SARIF_SCHEMA } from './sarif.js';
export {
  type AssertionAudienceMode,
  recordServedSettings,
  servedAssertionAudience,
} from './served_settings.js';
export { loadPostureSnapshot, type PostureSnapshot } from './snapshot.js';
