/**
 * The `clavis advise` questionnaire in a real terminal (tmux): the questions with their defaults, the
 * answers typed, the advice printed; Ctrl-C and Ctrl-D cancel with exit 2. The built binary runs under a
 * small shell that prints its exit status and waits for a line, so the pane keeps the whole output.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, childEnv, NODE } from './support/cli.js';
import { TmuxSession } from './support/tmux.js';

const sessions: TmuxSession[] = [];
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((session) => session.kill()));
});

async function advise(...argv: string[]): Promise<TmuxSession> {
  const session = await TmuxSession.start({
    command: [
      'bash',
      '--noprofile',
      '--norc',
      '-c',
      '"$@"; echo "EXIT=$?"; read -r _',
      'advise-test',
      NODE,
      BIN,
      'advise',
      ...argv,
    ],
    env: childEnv(),
    width: 250,
    height: 80,
  });
  sessions.push(session);
  return session;
}

/**
 * Waits for the exit status line, then lets the shell end (it waits for a line) and waits for that, so
 * nothing still runs when the session is removed. The screen as it was at the status line.
 */
async function finished(session: TmuxSession, status: number): Promise<string> {
  const screen = await session.waitForText(`EXIT=${status}`);
  await session.sendKeys('Enter');
  expect(await session.waitForExit()).toEqual({ status: 0, signal: undefined });
  return screen;
}

const WHO =
  'Who uses the credential? 1) a person  2) a service  3) bounded automation (a job, a script) [1]:';

describe('clavis advise in a terminal', () => {
  it('asks, takes Enter as the default, and advises the device flow for a person', async () => {
    const session = await advise();
    const first = await session.waitForText(WHO);
    expect(first).toContain(
      'Which credential? A few questions (Enter takes the default in brackets; Ctrl-C quits).',
    );
    await session.sendKeys('Enter');
    await session.waitForText(
      'Where does it run? 1) a workstation or server  2) a CI job  3) a Kubernetes pod [1]:',
    );
    await session.sendKeys('Enter');
    await session.waitForText('here or on another device (a phone)? [Y/n]:');
    await session.sendKeys('Enter');
    await session.waitForText('Does the CLI act for several people? [y/N]:');
    await session.sendKeys('Enter');
    await session.waitForText('(air-gapped or legacy)? [y/N]:');
    await session.sendKeys('Enter');
    const screen = await finished(session, 0);
    expect(screen).toContain('Credential: device_flow');
    expect(screen).toContain('  clavis login --server ISSUER');
    expect(screen).toContain('NIST-SP-800-63B:AAL2');
  });

  it('for a CI job typed in: client credentials through a federation', async () => {
    const session = await advise();
    await session.waitForText(WHO);
    await session.type('3');
    await session.sendKeys('Enter');
    await session.waitForText('Where does it run?');
    await session.type('2');
    await session.sendKeys('Enter');
    await session.waitForText('(air-gapped or legacy)? [y/N]:');
    await session.type('n');
    await session.sendKeys('Enter');
    const screen = await finished(session, 0);
    expect(screen).not.toContain('[Y/n]');
    expect(screen).toContain('Credential: client_credentials');
    expect(screen).toContain('--preset github-actions');
  });

  it('asks again after a wrong answer', async () => {
    const session = await advise('--static-only');
    await session.waitForText(WHO);
    await session.type('robot');
    await session.sendKeys('Enter');
    await session.waitForText('Answer 1, 2 or 3.');
    await session.type('2');
    await session.sendKeys('Enter');
    await session.waitForText('Where does it run?');
    await session.sendKeys('Enter');
    const screen = await finished(session, 0);
    expect(screen).toContain('Credential: api_key');
  });

  it('with enough flags asks nothing', async () => {
    const session = await advise('--actor', 'service', '--kubernetes');
    const screen = await finished(session, 0);
    expect(screen).not.toContain('Who uses the credential?');
    expect(screen).toContain('--preset kubernetes');
  });

  it('Ctrl-C quits with exit 2 and one line', async () => {
    const session = await advise();
    await session.waitForText(WHO);
    await session.sendKeys('C-c');
    const screen = await finished(session, 2);
    expect(screen).toContain('clavis: cancelled');
    expect(screen).not.toContain('Credential:');
  });

  it('Ctrl-D (end of input) cancels with exit 2', async () => {
    const session = await advise();
    await session.waitForText(WHO);
    await session.sendKeys('Enter');
    await session.waitForText('Where does it run?');
    await session.sendKeys('C-d');
    const screen = await finished(session, 2);
    expect(screen).toContain('clavis: cancelled');
  });
});
