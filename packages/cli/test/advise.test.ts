/**
 * `clavis advise`: flags → the advice (text and `--json`), bad flags, `--detect` under simulated
 * environments, and the questionnaire driven through stdin. The questionnaire in a real terminal is in
 * advise_terminal.test.ts; the table itself is tested in @clavis/core.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { adviceRules, ciFederationCommands } from '@clavis/core';
import type { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/temp_dir.js';
import { type AdviseOptions, runAdvise } from '../src/commands/advise_run.js';
import { CliError } from '../src/errors.js';
import { buildProgram } from '../src/main.js';
import { childEnv, lines, runCli, spawnCli, TextSink } from './support/cli.js';

interface Run {
  stdout: string;
  stderr: string;
}

/** Runs `runAdvise` with collected streams; `answers` are typed into a stdin that says it is a terminal. */
async function advise(
  options: AdviseOptions,
  {
    env = {},
    answers,
    tty = answers !== undefined,
  }: { env?: Record<string, string>; answers?: string; tty?: boolean } = {},
): Promise<Run> {
  const stdout = new TextSink();
  const stderr = Object.assign(new TextSink(), { isTTY: tty });
  const stdin = Object.assign(Readable.from(answers === undefined ? [] : [answers]), { isTTY: tty });
  await runAdvise(options, { stdin, stdout, stderr, env });
  return { stdout: stdout.text, stderr: stderr.text };
}

const json = (run: Run) => JSON.parse(run.stdout) as Record<string, unknown>;

describe('clavis advise: flags', () => {
  it.each([
    { argv: ['--actor', 'human'], rule: 'person-at-terminal', credential: 'device_flow' },
    {
      argv: ['--actor', 'human', '--browser', 'yes', '--multi-user'],
      rule: 'people-sharing-a-cli',
      credential: 'device_flow',
    },
    { argv: ['--actor', 'human', '--browser', 'no'], rule: 'person-without-browser', credential: 'api_key' },
    { argv: ['--actor', 'human', '--ci'], rule: 'person-cli-in-ci', credential: 'client_credentials' },
    { argv: ['--actor', 'automation', '--ci'], rule: 'ci-job', credential: 'client_credentials' },
    {
      argv: ['--actor', 'service', '--kubernetes'],
      rule: 'kubernetes-workload',
      credential: 'client_credentials',
    },
    { argv: ['--actor', 'service'], rule: 'service-with-key-pair', credential: 'client_credentials' },
    { argv: ['--actor', 'human', '--static-only'], rule: 'person-static-only', credential: 'api_key' },
    {
      argv: ['--actor', 'human', '--ci', '--static-only'],
      rule: 'pipeline-static-only',
      credential: 'api_key',
    },
    { argv: ['--actor', 'automation', '--static-only'], rule: 'workload-static-only', credential: 'api_key' },
  ])('advise $argv --json: $credential ($rule)', async ({ argv, rule, credential }) => {
    const res = await runCli(['advise', ...argv, '--json']);
    expect(res).toMatchObject({ code: 0, stderr: '' });
    const out = JSON.parse(res.stdout);
    expect(Object.keys(out).slice(0, 4)).toEqual(['credential', 'reasons', 'controls', 'references']);
    expect(out).toMatchObject({ credential, rule });
    const row = adviceRules.find((r) => r.id === rule);
    expect(out.reasons).toEqual(row?.reasons);
    expect(out.controls).toEqual(row?.controls);
    expect(out.references).toEqual(row?.references);
    expect(out.commands).toEqual(row?.commands);
    expect(out.aal).toBe(row?.aal);
  });

  it('prints the JSON keys DESIGN pins, then the extra ones, in snake_case', async () => {
    const out = json(await advise({ actor: 'human', multiUser: true, json: true }));
    expect(Object.keys(out)).toEqual([
      'credential',
      'reasons',
      'controls',
      'references',
      'commands',
      'aal',
      'rule',
      'summary',
      'situation',
    ]);
    expect(out.situation).toEqual({
      actor: 'human',
      browser: true,
      ci: false,
      kubernetes: false,
      multi_user: true,
      static_only: false,
    });
  });

  it('prints the credential, why, the controls, the commands and the references as text', async () => {
    const { stdout, stderr } = await advise({ actor: 'automation', staticOnly: true });
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^Credential: api_key, a scoped API key/);
    for (const heading of [
      'Why:',
      'Controls:',
      'Set it up (upper-case words are yours to fill in):',
      'References:',
    ])
      expect(lines(stdout)).toContain(heading);
    expect(stdout).toContain('  clavis admin keys rotate KEY_ID --grace 24h\n');
    expect(stdout).toMatch(
      /\n {2}OWASP-NHI7:2025 +Long-Lived Secrets {2}https:\/\/owasp\.org\/www-project-non-human-identities-top-10\/2025\/7-long-lived-secrets\/\n/,
    );
    expect(stdout).toContain('Assurance: a workload credential');
  });

  it("states a person's assurance level", async () => {
    expect((await advise({ actor: 'human' })).stdout).toContain('Assurance: AAL2 (NIST SP 800-63B)');
    expect((await advise({ actor: 'human', browser: false })).stdout).toContain('Assurance: AAL1');
  });

  it.each([
    {
      argv: ['--actor', 'robot'],
      message:
        /^clavis: option '--actor <actor>' argument 'robot' is invalid\. must be human, service, automation$/,
    },
    { argv: ['--actor', 'HUMAN'], message: /argument 'HUMAN' is invalid/ },
    { argv: ['--actor', ''], message: /argument '' is invalid/ },
    {
      argv: ['--browser', 'maybe', '--actor', 'human'],
      message: /^clavis: option '--browser <yes\|no>' argument 'maybe' is invalid\. must be yes or no$/,
    },
    { argv: ['--actor', 'human', '--browser', 'y'], message: /argument 'y' is invalid/ },
    // Oversized: the line is cut, never the whole value echoed.
    {
      argv: ['--actor', 'x'.repeat(100_000)],
      message: /^clavis: option '--actor <actor>' argument 'x{400,500}$/,
    },
    { argv: ['--actor'], message: /^clavis: option '--actor <actor>' argument missing$/ },
    { argv: ['--bogus'], message: /^clavis: unknown option '--bogus'$/ },
    { argv: ['--actor', 'human', 'extra'], message: /^clavis: too many arguments/ },
    {
      argv: [],
      message: /^clavis: who uses the credential\? Give --actor human\|service\|automation, or --detect/,
    },
  ])('advise $argv: one line on stderr, exit 1', async ({ argv, message }) => {
    const res = await runCli(['advise', ...argv]);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(lines(res.stderr)).toHaveLength(1);
    expect(res.stderr.trimEnd()).toMatch(message);
  });

  it('sets up with commands and flags the CLI really has', () => {
    const program = buildProgram({
      stdout: new TextSink(),
      stderr: new TextSink(),
      stdin: Readable.from([]),
      env: {},
      stopSignal: new Promise<string>(() => {}),
    });
    const checked: string[] = [];
    // The setup commands, and every `clavis …` the reasons and controls quote.
    const quoted = adviceRules
      .flatMap((r) => [...r.reasons, ...r.controls])
      .flatMap((text) => [...text.matchAll(/`(clavis [^`]+)`/g)].map((m) => m[1] as string));
    const commands = [
      ...adviceRules.flatMap((r) => r.commands.map((c) => c.command)),
      ...Object.values(ciFederationCommands).map((c) => c.command),
      ...quoted,
    ];
    expect(quoted.length).toBeGreaterThan(5);
    for (const command of commands) {
      const words = command.split(' ').filter((w) => !/^CLAVIS_[A-Z_]+=/.test(w));
      expect(words[0]).toBe('clavis');
      let cmd: Command = program;
      const chain: Command[] = [program];
      let i = 1;
      for (; i < words.length && !words[i]?.startsWith('-'); i++) {
        const sub = cmd.commands.find((c) => c.name() === words[i]);
        if (!sub) break;
        cmd = sub;
        chain.push(sub);
      }
      expect(cmd, command).not.toBe(program);
      for (const flag of words.slice(i).filter((w) => w.startsWith('--'))) {
        const known = chain.some((c) => c.options.some((o) => o.long === flag));
        expect(known, `${command}: ${flag}`).toBe(true);
      }
      checked.push(command);
    }
    expect(checked.length).toBeGreaterThan(20);
  });
});

describe('clavis advise --detect', () => {
  const tmp = tempDir('clavis-advise-');
  afterAll(() => tmp.remove());

  it('in GitHub Actions: the job, client credentials through a federation; says what it detected', async () => {
    const res = await advise({ detect: true, json: true }, { env: { GITHUB_ACTIONS: 'true', CI: 'true' } });
    expect(res.stderr).toBe('Detected: no terminal, no browser here, CI (github-actions), not Kubernetes.\n');
    expect(json(res)).toMatchObject({
      credential: 'client_credentials',
      rule: 'ci-job',
      detected: { interactive: false, ssh: false, browser: false, ci: 'github-actions', kubernetes: false },
    });
  });

  it("in GitLab CI: the federation command with GitLab's preset and claims", async () => {
    const res = await advise({ detect: true, json: true }, { env: { GITLAB_CI: 'true' } });
    const commands = (json(res).commands as Array<{ command: string }>).map((c) => c.command).join('\n');
    expect(commands).toContain('--preset gitlab-ci --audience ISSUER --claim project_path=GROUP/PROJECT');
    expect(commands).not.toContain('github-actions');
  });

  it("in CI with --actor human: the pipeline's identity, never the person's token", async () => {
    const res = await advise({ detect: true, json: true, actor: 'human' }, { env: { GITLAB_CI: 'true' } });
    expect(json(res)).toMatchObject({ credential: 'client_credentials', rule: 'person-cli-in-ci' });
  });

  it('at a terminal over SSH without a display: a person, approving on another device', async () => {
    const res = await advise(
      { detect: true, json: true },
      { env: { SSH_CONNECTION: '192.0.2.1 51234 192.0.2.2 22' }, tty: true },
    );
    expect(res.stderr).toBe(
      'Detected: a terminal, over SSH, no browser here (approval on another device), not CI, not Kubernetes.\n',
    );
    expect(json(res)).toMatchObject({
      credential: 'device_flow',
      rule: 'person-at-terminal',
      situation: { actor: 'human', browser: true },
      detected: { interactive: true, ssh: true, browser: false },
    });
  });

  it('at a terminal with a display: a browser opens here', async () => {
    const res = await advise({ detect: true }, { env: { DISPLAY: ':0' }, tty: true });
    expect(res.stderr).toContain('a terminal, a browser can open here, not CI');
    expect(res.stdout).toMatch(/^Credential: device_flow/);
  });

  it('in a Kubernetes pod: a service, through its service-account token', async () => {
    const token = join(tmp.path, 'token');
    writeFileSync(token, 'header.payload.signature');
    const env = { KUBERNETES_SERVICE_HOST: '10.0.0.1', CLAVIS_K8S_TOKEN_FILE: token };
    const res = await advise({ detect: true, json: true }, { env });
    expect(json(res)).toMatchObject({ rule: 'kubernetes-workload', detected: { kubernetes: true } });
    // Without the token file, not a pod Clavis can use.
    const none = await advise(
      { detect: true, json: true },
      { env: { ...env, CLAVIS_K8S_TOKEN_FILE: join(tmp.path, 'no') } },
    );
    expect(json(none)).toMatchObject({ rule: 'service-with-key-pair', detected: { kubernetes: false } });
  });

  it('with no terminal and nothing else: automation, with a key pair', async () => {
    const res = await advise({ detect: true, json: true });
    expect(json(res)).toMatchObject({ rule: 'service-with-key-pair', situation: { actor: 'automation' } });
  });

  it('with --actor human and no terminal: still a person, who approves on another device', async () => {
    const res = await advise({ detect: true, json: true, actor: 'human' });
    expect(json(res)).toMatchObject({ rule: 'person-at-terminal', situation: { browser: true } });
    const none = await advise({ detect: true, json: true, actor: 'human', browser: false });
    expect(json(none)).toMatchObject({ rule: 'person-without-browser' });
  });

  it('lets flags win over what it detected', async () => {
    const res = await advise(
      { detect: true, json: true, staticOnly: true },
      { env: { GITHUB_ACTIONS: 'true' } },
    );
    expect(json(res)).toMatchObject({ rule: 'workload-static-only' });
  });

  it('the built binary detects GitHub Actions from its environment', async () => {
    const res = await spawnCli(['advise', '--detect', '--json'], childEnv({ GITHUB_ACTIONS: 'true' }));
    expect(res.code).toBe(0);
    expect(res.stderr).toBe('Detected: no terminal, no browser here, CI (github-actions), not Kubernetes.\n');
    expect(JSON.parse(res.stdout)).toMatchObject({ credential: 'client_credentials', rule: 'ci-job' });
  });

  it('the built binary over SSH with no display and no terminal: automation, not a person', async () => {
    const res = await spawnCli(['advise', '--detect', '--json'], childEnv({ SSH_CONNECTION: 'a b c d' }));
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({
      detected: { ssh: true, browser: false, interactive: false },
    });
  });
});

describe('clavis advise: the questionnaire', () => {
  it('asks on stderr, takes the defaults on Enter: a person, device flow', async () => {
    const res = await advise({ json: true }, { answers: '\n\n\n\n\n' });
    expect(json(res)).toMatchObject({ rule: 'person-at-terminal' });
    expect(res.stderr).toContain('Who uses the credential? 1) a person  2) a service  3) bounded automation');
    expect(res.stderr).toContain('[Y/n]:');
  });

  it('asks only what the flags leave open and what changes the answer', async () => {
    const res = await advise({ ci: true, json: true }, { answers: '3\nn\n' });
    expect(json(res)).toMatchObject({ rule: 'ci-job', situation: { actor: 'automation', ci: true } });
    expect(res.stderr).not.toContain('Where does it run?');
    expect(res.stderr).not.toContain('browser');
  });

  it('a service in Kubernetes', async () => {
    const res = await advise({ json: true }, { answers: '2\n3\nno\n' });
    expect(json(res)).toMatchObject({ rule: 'kubernetes-workload' });
  });

  it('a person without a browser anywhere', async () => {
    const res = await advise({ json: true }, { answers: '1\n1\nn\nn\n' });
    expect(json(res)).toMatchObject({ rule: 'person-without-browser', credential: 'api_key' });
    expect(res.stderr).not.toContain('several people');
  });

  it('asks again after an answer it does not understand', async () => {
    const res = await advise({ json: true }, { answers: '7\nperson\n1\n\n\nyes\n\n' });
    expect(res.stderr.match(/Answer 1, 2 or 3\./g)).toHaveLength(2);
    expect(json(res)).toMatchObject({ rule: 'people-sharing-a-cli' });
  });

  it('gives up after three answers it does not understand (exit 1)', async () => {
    await expect(advise({}, { answers: 'a\nb\nc\n' })).rejects.toMatchObject({
      message: 'no answer understood after 3 tries',
      exitCode: 1,
    });
  });

  it('cancels (exit 2) when input ends before the last answer', async () => {
    const err = await advise({}, { answers: '1\n' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect(err).toMatchObject({ message: 'cancelled', exitCode: 2 });
  });

  it('without a terminal on stdin it does not ask, and says which flag to give', async () => {
    await expect(advise({}, { answers: '1\n', tty: false })).rejects.toThrow(/Give --actor/);
  });
});
