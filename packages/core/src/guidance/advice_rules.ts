/**
 * Which credential a command-line tool should use, as a table a reader can audit: each row says when it
 * applies (conditions on the situation), the credential, why, the controls that go with it, the Clavis
 * commands that set it up, the framework references and the assurance level. The rows' conditions are
 * disjoint and together cover every situation: a test walks every combination and finds exactly one row.
 *
 * Where two conditions meet, the table settles it: CI comes before Kubernetes (a job on Kubernetes
 * runners gets the pipeline's identity), a static-only target before everything else, and a browser and
 * several people matter only for a person outside CI (a workload acts as itself whoever it serves).
 *
 * Upper-case words in commands are placeholders: ISSUER (the Clavis server's URL), USERNAME, CLIENT_ID,
 * SCOPE, TEAM, ORG/REPO, CIDR, KEY_ID, NAME.
 */

/** Who uses the credential: a person, a service (a long-running workload), or bounded automation (a job, a script). */
export type Actor = 'human' | 'service' | 'automation';

export const actors: readonly Actor[] = ['human', 'service', 'automation'];

/** The credential advised, as `advise --json` prints it. */
export type AdvisedCredential = 'device_flow' | 'client_credentials' | 'api_key';

/** An authentication assurance level of NIST SP 800-63B; it applies to people, so a workload's row has none. */
export type AssuranceLevel = 'AAL1' | 'AAL2' | 'AAL3';

/** The situation the advice is for. */
export interface AdviceInput {
  actor: Actor;
  /** A person can approve a sign-in in a browser, on this device or on another one (a phone). */
  browser: boolean;
  /** It runs in a CI job. */
  ci: boolean;
  /** It runs in a Kubernetes pod. */
  kubernetes: boolean;
  /** The CLI acts for several people (a shared machine or tool). */
  multiUser: boolean;
  /** The target accepts nothing but a static key (air-gapped or legacy). */
  staticOnly: boolean;
}

/** When a row applies: each field given must hold (an actor among those listed); a field left out is any. */
export interface AdviceConditions {
  actor?: readonly Actor[];
  browser?: boolean;
  ci?: boolean;
  kubernetes?: boolean;
  multiUser?: boolean;
  staticOnly?: boolean;
}

/** One command that sets the credential up, and what it is for. */
export interface SetupCommand {
  command: string;
  purpose: string;
}

export interface AdviceRule {
  /** Stable name of the row, e.g. `person-at-terminal`. */
  id: string;
  when: AdviceConditions;
  credential: AdvisedCredential;
  /** The advice in one line. */
  summary: string;
  reasons: readonly string[];
  controls: readonly string[];
  commands: readonly SetupCommand[];
  /** Framework reference strings (see frameworks.ts). */
  references: readonly string[];
  /** The assurance level of the person's authentication; `null` for a workload's credential. */
  aal: AssuranceLevel | null;
}

const people: readonly Actor[] = ['human'];
const workloads: readonly Actor[] = ['service', 'automation'];

// What every API key must carry, whoever holds it.
const apiKeyControls = {
  scopes:
    "Narrow scopes: only what the task needs (`--scope`, within the owner's ceiling; never `keys:mint`).",
  expiry: 'Mandatory expiry: `--ttl` in days, not months (at most CLAVIS_API_KEY_MAX_TTL, 90d by default).',
  rotation:
    'Rotation with overlap: `clavis admin keys rotate KEY_ID --grace 24h` issues the successor while the old key still works.',
  allowList: 'IP allow-list: `--cidr` for each network the key is used from; anywhere else it is refused.',
  useLimits: 'Use limits: `--max-uses` and `--rate-limit` bound what a stolen key can do.',
  vault:
    'Vault-backed retrieval: keep the key in a secret manager and give the CLI `CLAVIS_API_KEY_COMMAND` (a credential process that prints it), never a file or a variable in a repository.',
  scanning:
    'Secret scanning: `clavis scan --install-hook` blocks a commit holding a key, `clavis scan --git` searches the history; the key checksum makes a find a key, not noise.',
  revocation:
    'Automated revocation: a key unused for CLAVIS_API_KEY_IDLE_REVOKE (30d) is revoked; a reported leak (`clavis scan --report ISSUER`, or a scanning partner) revokes it at once.',
} as const;

const perJobIssuance =
  'Per-job issuance: a workload whose token has `keys:mint` mints a key per job (POST /oauth/api-keys, at most 1 hour, `max_uses=1`) instead of keeping one.';

const perPersonKey =
  'One key per person and per machine, owned by the person (`--owner user:USERNAME`): never shared, so every use is theirs.';

const apiKeyScanCommands: readonly SetupCommand[] = [
  {
    command: 'clavis scan --install-hook',
    purpose: 'in each repository that handles the key: a pre-commit hook refuses a commit holding it',
  },
  {
    command: 'clavis admin keys rotate KEY_ID --grace 24h',
    purpose: 'before it expires: the successor, with a day when both work',
  },
];

const federationReasons = [
  'The platform signs an OIDC token for every job or pod; a federation exchanges it for a short-lived token of one service principal, so no secret is stored or copied anywhere.',
  'The trust policy pins what may act (repository and branch, or namespace and service account), and every exchange is audited with the run that made it.',
] as const;

const federationControls = [
  'Pin the subject and the ref: `--claim repository=ORG/REPO --claim ref=refs/heads/main` (a wildcard repository needs `--allow-org-wide`).',
  'Short tokens: `--max-ttl 10m` (15 minutes by default); nothing to rotate, nothing to leak.',
  "Narrow scopes: the federation's `--scope` ceiling lies within the service principal's.",
  'An owner for the service principal (`--owner TEAM`), so it is retired with what it serves.',
  'One service principal per pipeline and environment: production does not share an identity with test.',
] as const;

const federationReferences = [
  'OWASP-NHI6:2025',
  'OWASP-NHI7:2025',
  'OWASP-NHI4:2025',
  'OWASP-NHI8:2025',
  'NIST-CSF-2.0:PR.AA-01',
  'NIST-CSF-2.0:PR.AA-03',
  'NIST-CSF-2.0:PR.AA-04',
  'NIST-CSF-2.0:PR.AA-05',
] as const;

const pipelinePrincipal: SetupCommand = {
  command:
    'clavis admin clients create --name ci-deploy --kind confidential --scope SCOPE --owner TEAM --json',
  purpose:
    "the pipeline's own service principal (its generated secret is not needed: revoke it with `clients secrets revoke`)",
};

/** The federation a CI platform's jobs need, per platform preset; the table shows GitHub Actions'. */
export const ciFederationCommands = {
  'github-actions': {
    command:
      'clavis admin federations create --client CLIENT_ID --preset github-actions --audience ISSUER --claim repository=ORG/REPO --claim ref=refs/heads/main --scope SCOPE --max-ttl 10m',
    purpose:
      "trust the jobs of that repository and branch (GitHub Actions shown; `--preset gitlab-ci` or `buildkite` take their platform's claims)",
  },
  'gitlab-ci': {
    command:
      'clavis admin federations create --client CLIENT_ID --preset gitlab-ci --audience ISSUER --claim project_path=GROUP/PROJECT --claim ref_protected=true --scope SCOPE --max-ttl 10m',
    purpose: "trust that GitLab project's jobs on protected refs (`id_tokens:` gives the job its token)",
  },
  buildkite: {
    command:
      'clavis admin federations create --client CLIENT_ID --preset buildkite --audience ISSUER --claim organization_slug=ORG --claim pipeline_slug=PIPELINE --claim build_branch=main --scope SCOPE --max-ttl 10m',
    purpose: "trust that Buildkite pipeline's builds of main",
  },
} as const satisfies Record<string, SetupCommand>;

export type CiFederationPreset = keyof typeof ciFederationCommands;

const githubFederation: SetupCommand = ciFederationCommands['github-actions'];

const inTheJob: SetupCommand = {
  command: 'clavis token',
  purpose:
    'in the job (with `id-token: write` on GitHub Actions): the SDK asks the platform for its token and exchanges it',
};

/** The table. Order is for reading only: the conditions are disjoint, so exactly one row applies. */
export const adviceRules: readonly AdviceRule[] = [
  {
    id: 'person-at-terminal',
    when: { actor: people, browser: true, ci: false, multiUser: false, staticOnly: false },
    credential: 'device_flow',
    summary: 'Log in as yourself with the device flow: `clavis login`.',
    reasons: [
      "A person is acting: the device flow signs them in through the organisation's sign-in and its second factor, so every action is attributed to them.",
      'The approval happens in a browser on this device or another one (a phone), so it works over SSH and on a headless machine too: the CLI only shows a code and a link.',
      'Nothing long-lived is copied anywhere: the CLI keeps a short access token and a refresh token with idle and absolute limits.',
    ],
    controls: [
      'A second factor at approval (`clavis admin users create USERNAME --totp`, or a sign-in provider asserting MFA).',
      'Short access tokens (10 minutes by default); refresh tokens end after 8h idle and 24h in all.',
      'The login lives in the OS keychain; `CLAVIS_REQUIRE_KEYCHAIN=1` refuses the file fallback.',
      'Check the consent page before approving: it shows the client, the scopes, and where and when the request was made.',
      '`clavis logout` revokes the login at the server; disabling a person ends all their sessions.',
    ],
    commands: [
      {
        command: 'clavis admin users create USERNAME --totp',
        purpose: 'once, by an administrator: the person, with a second factor',
      },
      { command: 'clavis login --server ISSUER', purpose: 'the person signs in (a code to approve)' },
      { command: 'clavis whoami', purpose: 'who the CLI now acts as, and until when' },
    ],
    references: [
      'OWASP-NHI10:2025',
      'NIST-CSF-2.0:PR.AA-01',
      'NIST-CSF-2.0:PR.AA-02',
      'NIST-CSF-2.0:PR.AA-03',
      'NIST-SP-800-63B:AAL2',
    ],
    aal: 'AAL2',
  },
  {
    id: 'people-sharing-a-cli',
    when: { actor: people, browser: true, ci: false, multiUser: true, staticOnly: false },
    credential: 'device_flow',
    summary:
      'Each person logs in as themselves with the device flow; the CLI never holds a shared credential.',
    reasons: [
      'The CLI acts for several people: one shared key or login would make them indistinguishable in the audit log and give each the access of all.',
      "With the device flow each person approves their own sign-in, with their own second factor, from this device or another one, and the CLI keeps each person's login apart.",
    ],
    controls: [
      'One login per person: each runs `clavis login` under their own account, never a shared one.',
      'A second factor at approval for everyone (`users create --totp`, or a sign-in provider asserting MFA).',
      'Scopes per person (`clavis admin users set-scopes USERNAME --scope SCOPE`): each gets only what their work needs.',
      "Logins in the OS keychain (`CLAVIS_REQUIRE_KEYCHAIN=1`), so one person cannot read another's from a file.",
      'Short access tokens, refresh bounded by idle and absolute limits; `clavis logout` when done on a shared machine.',
    ],
    commands: [
      {
        command: 'clavis admin users create USERNAME --totp',
        purpose: 'once per person, by an administrator',
      },
      {
        command: 'clavis login --server ISSUER',
        purpose: 'each person, under their own account on the machine',
      },
      { command: 'clavis logout', purpose: 'when leaving a shared machine: revokes the login at the server' },
    ],
    references: [
      'OWASP-NHI9:2025',
      'OWASP-NHI10:2025',
      'NIST-CSF-2.0:PR.AA-01',
      'NIST-CSF-2.0:PR.AA-03',
      'NIST-CSF-2.0:PR.AA-05',
      'NIST-SP-800-63B:AAL2',
    ],
    aal: 'AAL2',
  },
  {
    id: 'person-without-browser',
    when: { actor: people, browser: false, ci: false, staticOnly: false },
    credential: 'api_key',
    summary: 'A personal API key, owned by the person, with every control: no browser can approve a login.',
    reasons: [
      'No browser on any device can approve a sign-in, so the device flow cannot be completed.',
      'A key owned by the person (`user:USERNAME`) keeps their actions attributed to them and bounded by their own scopes.',
      'A key is a single factor that can be copied: it gets the shortest lifetime that works and every limit below.',
    ],
    controls: [
      perPersonKey,
      apiKeyControls.scopes,
      apiKeyControls.expiry,
      apiKeyControls.rotation,
      apiKeyControls.allowList,
      apiKeyControls.useLimits,
      apiKeyControls.vault,
      apiKeyControls.scanning,
      apiKeyControls.revocation,
    ],
    commands: [
      {
        command: 'clavis admin users create USERNAME --scope SCOPE',
        purpose: "once, by an administrator: the person, with the ceiling of their keys' scopes",
      },
      {
        command:
          'clavis admin keys create --owner user:USERNAME --scope SCOPE --ttl 7d --cidr CIDR --rate-limit 60 --name USERNAME-terminal',
        purpose: 'the key, printed once: put it in the secret manager straight away',
      },
      ...apiKeyScanCommands,
    ],
    references: [
      'OWASP-NHI2:2025',
      'OWASP-NHI7:2025',
      'OWASP-NHI5:2025',
      'NIST-CSF-2.0:PR.AA-01',
      'NIST-CSF-2.0:PR.AA-03',
      'NIST-CSF-2.0:PR.AA-05',
      'NIST-SP-800-63B:AAL1',
    ],
    aal: 'AAL1',
  },
  {
    id: 'person-cli-in-ci',
    when: { actor: people, ci: true, staticOnly: false },
    credential: 'client_credentials',
    summary: "The pipeline's own identity through a federation: never a person's token in CI.",
    reasons: [
      "A person's token in CI would let every run act as that person, with all their access, after they have left the keyboard (or the company), from a secret store others can read.",
      'The pipeline is the actor: it gets its own service principal, and its runs are audited as the pipeline.',
      ...federationReasons,
      'The SDK refuses a stored personal login in CI (unless `CLAVIS_ALLOW_PERSONAL_TOKEN_IN_CI=1` says otherwise).',
    ],
    controls: [
      "Never a person's login or personal key in CI variables; leave `CLAVIS_ALLOW_PERSONAL_TOKEN_IN_CI` unset.",
      ...federationControls,
    ],
    commands: [pipelinePrincipal, githubFederation, inTheJob],
    references: ['OWASP-NHI10:2025', 'OWASP-NHI9:2025', ...federationReferences],
    aal: null,
  },
  {
    id: 'ci-job',
    when: { actor: workloads, ci: true, staticOnly: false },
    credential: 'client_credentials',
    summary:
      "Client credentials with workload identity: the CI platform's token exchanged through a federation.",
    reasons: [
      ...federationReasons,
      'Tokens live minutes: a leaked one is worth little, and there is nothing to rotate.',
    ],
    controls: [...federationControls],
    commands: [pipelinePrincipal, githubFederation, inTheJob],
    references: [...federationReferences],
    aal: null,
  },
  {
    id: 'kubernetes-workload',
    when: { actor: workloads, ci: false, kubernetes: true, staticOnly: false },
    credential: 'client_credentials',
    summary:
      "Client credentials with workload identity: the pod's service-account token exchanged through a federation.",
    reasons: [
      "Kubernetes gives the pod a signed, short-lived service-account token with the audience you choose; a federation exchanges it for a token of the workload's service principal.",
      'No secret in the pod spec, the image or a Kubernetes Secret: the token is projected and refreshed by the kubelet.',
      'Tokens live minutes: a leaked one is worth little, and there is nothing to rotate.',
    ],
    controls: [
      'Pin the service account: `--claim sub=system:serviceaccount:NAMESPACE:NAME`.',
      'A projected token with the Clavis issuer as audience and a short `expirationSeconds` (README: Kubernetes).',
      'Short tokens: `--max-ttl 10m`.',
      "Narrow scopes: the federation's `--scope` ceiling lies within the service principal's.",
      'An owner for the service principal (`--owner TEAM`); one per workload and cluster.',
    ],
    commands: [
      {
        command:
          'clavis admin clients create --name NAME --kind confidential --scope SCOPE --owner TEAM --json',
        purpose:
          "the workload's service principal (its generated secret is not needed: revoke it with `clients secrets revoke`)",
      },
      {
        command:
          'clavis admin federations create --client CLIENT_ID --preset kubernetes --issuer CLUSTER_ISSUER --audience ISSUER --claim sub=system:serviceaccount:NAMESPACE:NAME --scope SCOPE --max-ttl 10m',
        purpose:
          "trust that service account's tokens (`--jwks-file` for a cluster whose issuer is unreachable)",
      },
      {
        command: 'clavis token',
        purpose: 'in the pod: the SDK reads the projected token (CLAVIS_K8S_TOKEN_FILE) and exchanges it',
      },
    ],
    references: [...federationReferences],
    aal: null,
  },
  {
    id: 'service-with-key-pair',
    when: { actor: workloads, ci: false, kubernetes: false, staticOnly: false },
    credential: 'client_credentials',
    summary:
      'Client credentials with `private_key_jwt`: the service signs a short assertion with its own key.',
    reasons: [
      "A workload acts as itself: it gets its own service principal, never a person's login.",
      "With `private_key_jwt` (RFC 7523) the server holds only the public key: there is no shared secret to steal from the server or to leak from the service's configuration.",
      'Each assertion is short-lived and accepted once; the access tokens it buys live minutes.',
    ],
    controls: [
      "The private key stays with the service (file mode 0600, or the host's key store); the server has only the JWKS.",
      'Rotate the key pair by publishing a new key beside the old one (`--jwks-uri`, or a JWKS with both), then removing the old one.',
      'Narrow scopes on the service principal (`--scope`), and an owner (`--owner TEAM`).',
      'Short access tokens (`--token-ttl`, 10 minutes by default, at most 1h).',
      'One service principal per service and environment: never reused across them.',
    ],
    commands: [
      {
        command:
          'clavis admin clients create --name NAME --kind confidential --auth-method private_key_jwt --jwks-file NAME.jwks.json --scope SCOPE --owner TEAM --json',
        purpose:
          "the service principal, with the public half of the service's key pair (README: A service without a shared secret)",
      },
      {
        command: 'CLAVIS_CLIENT_ID=CLIENT_ID CLAVIS_PRIVATE_KEY_FILE=NAME.key clavis token',
        purpose: 'on the service: the SDK signs the assertion and gets a token',
      },
    ],
    references: [
      'OWASP-NHI4:2025',
      'OWASP-NHI7:2025',
      'OWASP-NHI9:2025',
      'NIST-CSF-2.0:PR.AA-01',
      'NIST-CSF-2.0:PR.AA-03',
      'NIST-CSF-2.0:PR.AA-04',
      'NIST-CSF-2.0:PR.AA-05',
    ],
    aal: null,
  },
  {
    id: 'person-static-only',
    when: { actor: people, ci: false, staticOnly: true },
    credential: 'api_key',
    summary: 'A personal API key with every control: the target accepts nothing but a static key.',
    reasons: [
      'The target (air-gapped or legacy) accepts nothing but a static key, so neither a login nor a token will do.',
      'A key owned by the person (`user:USERNAME`) keeps their actions attributed to them and bounded by their own scopes.',
      'A key is a single factor that can be copied: it gets the shortest lifetime that works and every limit below.',
    ],
    controls: [
      perPersonKey,
      apiKeyControls.scopes,
      apiKeyControls.expiry,
      apiKeyControls.rotation,
      apiKeyControls.allowList,
      apiKeyControls.useLimits,
      apiKeyControls.vault,
      apiKeyControls.scanning,
      apiKeyControls.revocation,
    ],
    commands: [
      {
        command:
          'clavis admin keys create --owner user:USERNAME --scope SCOPE --ttl 7d --cidr CIDR --rate-limit 60 --name NAME',
        purpose: 'the key, printed once: put it in the secret manager straight away',
      },
      ...apiKeyScanCommands,
    ],
    references: [
      'OWASP-NHI2:2025',
      'OWASP-NHI7:2025',
      'OWASP-NHI5:2025',
      'NIST-CSF-2.0:PR.AA-01',
      'NIST-CSF-2.0:PR.AA-05',
      'NIST-SP-800-63B:AAL1',
    ],
    aal: 'AAL1',
  },
  {
    id: 'pipeline-static-only',
    when: { actor: people, ci: true, staticOnly: true },
    credential: 'api_key',
    summary: "An API key of the pipeline's own, issued per job: never a person's key in CI.",
    reasons: [
      'The target accepts nothing but a static key, so the job needs one.',
      "It must not be a person's: a personal key in CI acts as that person for every run, and outlives their part in the project.",
      "The pipeline gets its own service principal, and its key is minted per job from the pipeline's federated token, so none is stored.",
    ],
    controls: [
      "Never a person's key in CI variables: the key belongs to the pipeline's service principal.",
      perJobIssuance,
      apiKeyControls.scopes,
      apiKeyControls.expiry,
      apiKeyControls.rotation,
      apiKeyControls.allowList,
      apiKeyControls.useLimits,
      apiKeyControls.vault,
      apiKeyControls.scanning,
      apiKeyControls.revocation,
    ],
    commands: [
      pipelinePrincipal,
      githubFederation,
      {
        command:
          'clavis admin keys create --owner CLIENT_ID --scope SCOPE --ttl 30d --cidr CIDR --max-uses 1000 --rate-limit 60 --name ci-deploy',
        purpose: 'where the job cannot mint its own: a key of the pipeline, kept in the CI secret store',
      },
      ...apiKeyScanCommands,
    ],
    references: [
      'OWASP-NHI10:2025',
      'OWASP-NHI2:2025',
      'OWASP-NHI7:2025',
      'OWASP-NHI5:2025',
      'NIST-CSF-2.0:PR.AA-01',
      'NIST-CSF-2.0:PR.AA-05',
    ],
    aal: null,
  },
  {
    id: 'workload-static-only',
    when: { actor: workloads, staticOnly: true },
    credential: 'api_key',
    summary: 'A scoped API key with every control: the automation can use neither a login nor a token.',
    reasons: [
      'The target (air-gapped or legacy) accepts nothing but a static key, so the automation can use neither the device flow nor client credentials.',
      'An API key is the credential of last resort: its blast radius is bounded by every control below.',
      'The key belongs to a service principal with an owner, never to a person.',
    ],
    controls: [
      apiKeyControls.scopes,
      apiKeyControls.expiry,
      apiKeyControls.rotation,
      apiKeyControls.allowList,
      perJobIssuance,
      apiKeyControls.useLimits,
      apiKeyControls.vault,
      apiKeyControls.scanning,
      apiKeyControls.revocation,
    ],
    commands: [
      {
        command:
          'clavis admin clients create --name NAME --kind confidential --scope SCOPE --owner TEAM --json',
        purpose: 'the service principal that owns the key (its scopes are the ceiling)',
      },
      {
        command:
          'clavis admin keys create --owner CLIENT_ID --scope SCOPE --ttl 30d --cidr CIDR --max-uses 1000 --rate-limit 60 --name NAME',
        purpose: 'the key, printed once: put it in the secret manager straight away',
      },
      ...apiKeyScanCommands,
    ],
    references: [
      'OWASP-NHI2:2025',
      'OWASP-NHI7:2025',
      'OWASP-NHI5:2025',
      'OWASP-NHI1:2025',
      'NIST-CSF-2.0:PR.AA-01',
      'NIST-CSF-2.0:PR.AA-05',
    ],
    aal: null,
  },
];

/**
 * Whether a row's conditions hold for the situation.
 *
 * @example
 * ```ts
 * ruleApplies(adviceRules[0], { actor: 'human', browser: true, ci: false, kubernetes: false, multiUser: false, staticOnly: false });
 * ```
 */
export function ruleApplies(rule: AdviceRule, input: AdviceInput): boolean {
  const { actor, ...flags } = rule.when;
  if (actor !== undefined && !actor.includes(input.actor)) return false;
  return (Object.keys(flags) as (keyof typeof flags)[]).every((key) => flags[key] === input[key]);
}

/** The advice for one situation: its row, and the row's content. */
export type Advice = Omit<AdviceRule, 'when'>;

/**
 * The advice for a situation: the one row of {@link adviceRules} whose conditions hold.
 *
 * @example
 * ```ts
 * advise({ actor: 'service', browser: false, ci: true, kubernetes: false, multiUser: false, staticOnly: false })
 *   .credential; // 'client_credentials'
 * ```
 */
export function advise(input: AdviceInput): Advice {
  const rows = adviceRules.filter((rule) => ruleApplies(rule, input));
  // The table test proves exactly one row applies to every situation; this only guards an edited table.
  if (rows.length !== 1 || !rows[0])
    throw new Error(`advice table: ${rows.length} rows apply to ${JSON.stringify(input)}`);
  const { when: _when, ...advice } = rows[0];
  return advice;
}

/**
 * The advice with its CI federation command for the platform the job runs on, when Clavis has a preset
 * for it (`clavis advise --detect` in GitLab CI shows GitLab's claims); otherwise the advice as it is.
 *
 * @example
 * ```ts
 * forCiPlatform(advise(situation), 'gitlab-ci').commands; // … --preset gitlab-ci …
 * ```
 */
export function forCiPlatform(advice: Advice, platform: string | null): Advice {
  const preset = Object.keys(ciFederationCommands).find((p): p is CiFederationPreset => p === platform);
  if (!preset || preset === 'github-actions') return advice;
  return {
    ...advice,
    commands: advice.commands.map((c) => (c === githubFederation ? ciFederationCommands[preset] : c)),
  };
}

/**
 * Every situation the inputs can describe (each actor × each yes/no), for checking the table.
 *
 * @example
 * ```ts
 * everyAdviceInput().length; // 96
 * ```
 */
export function everyAdviceInput(): AdviceInput[] {
  const bools = [false, true];
  const out: AdviceInput[] = [];
  for (const actor of actors)
    for (const browser of bools)
      for (const ci of bools)
        for (const kubernetes of bools)
          for (const multiUser of bools)
            for (const staticOnly of bools)
              out.push({ actor, browser, ci, kubernetes, multiUser, staticOnly });
  return out;
}
