/**
 * Whether an upstream sign-in counts as a second factor here, and which methods (RFC 8176) it is
 * recorded with. The provider must be trusted for it: `--mfa-from-amr` believes an `amr` naming a second
 * factor (`mfa`, `otp`, `hwk`, `pop`, `sc`); an `acr` the operator listed (`--acr`) is believed on its
 * own. Otherwise the person passes the local second factor where one is needed, and the upstream's
 * claims of second factors are not passed on.
 */
import type { IdentityProvider } from './identity_provider.js';
import type { UpstreamIdentity } from './upstream_client.js';

/** `amr` values that name a second factor (RFC 8176). */
export const SECOND_FACTOR_AMR: readonly string[] = ['mfa', 'otp', 'hwk', 'pop', 'sc'];

/** Every value RFC 8176 registers: only these are passed on in Clavis's own ID tokens. */
const REGISTERED_AMR = new Set([
  'face',
  'fpt',
  'geo',
  'hwk',
  'iris',
  'kba',
  'mca',
  'mfa',
  'otp',
  'pin',
  'pop',
  'pwd',
  'rba',
  'retina',
  'sc',
  'sms',
  'swk',
  'tel',
  'user',
  'vbm',
  'wia',
]);

export interface UpstreamMfa {
  /** The sign-in satisfies a client that requires MFA. */
  trusted: boolean;
  /** The methods recorded for the approval (its ID token's `amr`). */
  methods: string[];
}

export function upstreamMfa(
  idp: Pick<IdentityProvider, 'mfaFromAmr' | 'mfaAcrValues'>,
  identity: Pick<UpstreamIdentity, 'amr' | 'acr'>,
): UpstreamMfa {
  const fromAmr = idp.mfaFromAmr && identity.amr.some((m) => SECOND_FACTOR_AMR.includes(m));
  const fromAcr = identity.acr !== undefined && idp.mfaAcrValues.includes(identity.acr);
  const trusted = fromAmr || fromAcr;
  const registered = [...new Set(identity.amr.filter((m) => REGISTERED_AMR.has(m)))];
  if (trusted) return { trusted, methods: registered.includes('mfa') ? registered : [...registered, 'mfa'] };
  // Not believed as a second factor: nothing that claims one is passed on.
  const first = registered.filter((m) => !SECOND_FACTOR_AMR.includes(m));
  return { trusted, methods: first.length ? first : ['pwd'] };
}
