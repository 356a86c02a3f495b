/**
 * `clavis advise`: the situation from the flags, from the environment (`--detect`) or from a short
 * questionnaire in a terminal; then the one row of the advice table in @clavis/core that applies,
 * printed as text or `--json`.
 */
import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';
import {
  type Actor,
  type Advice,
  type AdviceInput,
  advise,
  forCiPlatform,
  frameworkReference,
} from '@clavis/core';
import { type DetectedContext, detectContext } from '@clavis/sdk/context';
import { CliError, exitCodes } from '../errors.js';
import { type Env, writeJson, writeLine } from '../io.js';

export type AdviseActor = Actor;

export interface AdviseOptions {
  actor?: Actor;
  browser?: boolean;
  ci?: boolean;
  kubernetes?: boolean;
  multiUser?: boolean;
  staticOnly?: boolean;
  detect?: boolean;
  json?: boolean;
}

export interface AdviseDeps {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
  env: Env;
}

/** Prints the advice for the situation the flags, the environment or the answers describe. */
export async function runAdvise(options: AdviseOptions, deps: AdviseDeps): Promise<void> {
  let detected: DetectedContext | undefined;
  let input: AdviceInput;
  if (options.detect) {
    detected = detectContext(deps.env, {
      stdinIsTTY: deps.stdin.isTTY === true,
      stderrIsTTY: deps.stderr.isTTY === true,
    });
    input = fromDetected(detected, options);
    writeLine(deps.stderr, `Detected: ${describeDetected(detected)}.`);
  } else if (options.actor !== undefined) {
    input = fromFlags(options.actor, options);
  } else if (deps.stdin.isTTY === true && deps.stderr.isTTY === true) {
    input = await askSituation(options, deps);
  } else {
    throw new CliError(
      'who uses the credential? Give --actor human|service|automation, or --detect (or run in a terminal to be asked)',
    );
  }
  const advice = forCiPlatform(advise(input), detected?.ci ?? null);
  if (options.json) return writeJson(deps, adviceJson(advice, input, detected));
  writeAdviceText(deps.stdout, advice, input);
}

function fromFlags(actor: Actor, options: AdviseOptions): AdviceInput {
  return {
    actor,
    browser: options.browser ?? true,
    ci: options.ci === true,
    kubernetes: options.kubernetes === true,
    multiUser: options.multiUser === true,
    staticOnly: options.staticOnly === true,
  };
}

/**
 * The situation detection describes: in CI, the job (automation); in a pod, a service; at a terminal, a
 * person, who can approve on this device or, over SSH or without a display, on another one; otherwise
 * automation without a terminal. A flag given wins over what was detected (`--actor human` without a
 * terminal is still a person who can approve elsewhere, unless `--browser no`).
 */
function fromDetected(context: DetectedContext, options: AdviseOptions): AdviceInput {
  const ci = options.ci === true || context.ci !== null;
  const kubernetes = options.kubernetes === true || context.kubernetes;
  const actor: Actor =
    options.actor ??
    (ci ? 'automation' : kubernetes ? 'service' : context.interactive ? 'human' : 'automation');
  return {
    actor,
    // A person can approve on another device (a phone) when this one cannot open a browser.
    browser: options.browser ?? actor === 'human',
    ci,
    kubernetes,
    multiUser: options.multiUser === true,
    staticOnly: options.staticOnly === true,
  };
}

function describeDetected(context: DetectedContext): string {
  const parts = [
    context.interactive ? 'a terminal' : 'no terminal',
    ...(context.ssh ? ['over SSH'] : []),
    context.browser
      ? 'a browser can open here'
      : context.interactive
        ? 'no browser here (approval on another device)'
        : 'no browser here',
    context.ci ? `CI (${context.ci})` : 'not CI',
    context.kubernetes ? 'Kubernetes' : 'not Kubernetes',
  ];
  return parts.join(', ');
}

/** `--json`: DESIGN's keys first, then what the text shows besides; snake_case throughout. */
function adviceJson(advice: Advice, input: AdviceInput, detected: DetectedContext | undefined) {
  return {
    credential: advice.credential,
    reasons: advice.reasons,
    controls: advice.controls,
    references: advice.references,
    commands: advice.commands,
    aal: advice.aal,
    rule: advice.id,
    summary: advice.summary,
    situation: {
      actor: input.actor,
      browser: input.browser,
      ci: input.ci,
      kubernetes: input.kubernetes,
      multi_user: input.multiUser,
      static_only: input.staticOnly,
    },
    ...(detected
      ? {
          detected: {
            interactive: detected.interactive,
            ssh: detected.ssh,
            browser: detected.browser,
            ci: detected.ci,
            kubernetes: detected.kubernetes,
          },
        }
      : {}),
  };
}

const credentialNames: Record<Advice['credential'], string> = {
  device_flow: 'device flow (a person signs in: clavis login)',
  client_credentials: 'client credentials (the workload authenticates as itself)',
  api_key: 'a scoped API key (the credential of last resort)',
};

function writeAdviceText(out: Writable, advice: Advice, input: AdviceInput): void {
  const line = (text = '') => writeLine(out, text);
  line(`Credential: ${advice.credential}, ${credentialNames[advice.credential]}`);
  line(`  ${advice.summary}`);
  line(
    advice.aal
      ? `Assurance: ${advice.aal} (NIST SP 800-63B)`
      : 'Assurance: a workload credential (NIST SP 800-63B levels are for people)',
  );
  line(`For: ${describeSituation(input)} (rule ${advice.id})`);
  line();
  line('Why:');
  for (const reason of advice.reasons) line(`  - ${reason}`);
  line();
  line('Controls:');
  for (const control of advice.controls) line(`  - ${control}`);
  line();
  line('Set it up (upper-case words are yours to fill in):');
  for (const { command, purpose } of advice.commands) {
    line(`  # ${purpose}`);
    line(`  ${command}`);
  }
  line();
  line('References:');
  const width = Math.max(...advice.references.map((id) => id.length));
  for (const id of advice.references) {
    const ref = frameworkReference(id);
    line(`  ${id.padEnd(width)}  ${ref ? `${ref.title}  ${ref.url}` : ''}`.trimEnd());
  }
}

function describeSituation(input: AdviceInput): string {
  const who = { human: 'a person', service: 'a service', automation: 'bounded automation' }[input.actor];
  const parts = [who];
  if (input.actor === 'human')
    parts.push(input.browser ? 'can approve in a browser' : 'no browser on any device');
  if (input.ci) parts.push('in CI');
  if (input.kubernetes) parts.push('in Kubernetes');
  if (input.multiUser) parts.push('for several people');
  if (input.staticOnly) parts.push('the target takes only a static key');
  return parts.join(', ');
}

/** Reads answers one line at a time; `null` once input ends (Ctrl-D). */
class LineReader {
  private readonly lines: string[] = [];
  private waiting: ((line: string | null) => void) | undefined;
  private closed = false;
  private readonly rl;

  constructor(input: Readable) {
    this.rl = createInterface({ input, terminal: false });
    this.rl.on('line', (line) => {
      if (this.waiting) {
        const resolve = this.waiting;
        this.waiting = undefined;
        resolve(line);
      } else this.lines.push(line);
    });
    this.rl.on('close', () => {
      this.closed = true;
      this.waiting?.(null);
      this.waiting = undefined;
    });
  }

  next(): Promise<string | null> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  close(): void {
    this.rl.close();
  }
}

const MAX_TRIES = 3;

/**
 * The questionnaire: only the questions the flags leave open, and only those that change the answer
 * (browser and several people are asked about a person outside CI). Prompts go to stderr; Enter takes
 * the default in brackets; end of input cancels (exit 2), as Ctrl-C does.
 */
async function askSituation(options: AdviseOptions, deps: AdviseDeps): Promise<AdviceInput> {
  const reader = new LineReader(deps.stdin);
  const ask = async <T>(question: string, parse: (answer: string) => T | undefined, hint: string) => {
    for (let tries = 0; tries < MAX_TRIES; tries++) {
      deps.stderr.write(`${question} `);
      const answer = await reader.next();
      if (answer === null) {
        deps.stderr.write('\n');
        throw new CliError('cancelled', exitCodes.cancelled);
      }
      const value = parse(answer.trim().toLowerCase());
      if (value !== undefined) return value;
      writeLine(deps.stderr, hint);
    }
    throw new CliError(`no answer understood after ${MAX_TRIES} tries`);
  };
  const choice =
    <T>(values: readonly T[], fallback: T) =>
    (answer: string): T | undefined =>
      answer === '' ? fallback : values[Number(answer) - 1];
  const yesOrNo =
    (fallback: boolean) =>
    (answer: string): boolean | undefined =>
      answer === '' ? fallback : /^y(es)?$/.test(answer) ? true : /^no?$/.test(answer) ? false : undefined;

  try {
    writeLine(
      deps.stderr,
      'Which credential? A few questions (Enter takes the default in brackets; Ctrl-C quits).',
    );
    const actor = await ask(
      'Who uses the credential? 1) a person  2) a service  3) bounded automation (a job, a script) [1]:',
      choice<Actor>(['human', 'service', 'automation'], 'human'),
      'Answer 1, 2 or 3.',
    );
    let ci = options.ci === true;
    let kubernetes = options.kubernetes === true;
    if (!ci && !kubernetes) {
      const where = await ask(
        'Where does it run? 1) a workstation or server  2) a CI job  3) a Kubernetes pod [1]:',
        choice(['host', 'ci', 'kubernetes'] as const, 'host'),
        'Answer 1, 2 or 3.',
      );
      ci = where === 'ci';
      kubernetes = where === 'kubernetes';
    }
    const person = actor === 'human' && !ci;
    const browser =
      options.browser ??
      (person
        ? await ask(
            'Can the person approve a sign-in in a browser, here or on another device (a phone)? [Y/n]:',
            yesOrNo(true),
            'Answer y or n.',
          )
        : false);
    const multiUser =
      options.multiUser === true ||
      (person && browser
        ? await ask('Does the CLI act for several people? [y/N]:', yesOrNo(false), 'Answer y or n.')
        : false);
    const staticOnly =
      options.staticOnly === true ||
      (await ask(
        'Does the target accept nothing but a static key (air-gapped or legacy)? [y/N]:',
        yesOrNo(false),
        'Answer y or n.',
      ));
    writeLine(deps.stderr);
    return { actor, browser, ci, kubernetes, multiUser, staticOnly };
  } finally {
    reader.close();
  }
}
