import { afterEach, describe, expect, it } from 'vitest';
import { TmuxSession } from './support/tmux.js';

const sessions: TmuxSession[] = [];
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((session) => session.kill()));
});

async function start(script: string, env: Record<string, string> = {}): Promise<TmuxSession> {
  const session = await TmuxSession.start({ command: [process.execPath, '-e', script], env });
  sessions.push(session);
  return session;
}

/** Says what it sees, then stays alive until a signal or Enter. */
const probe = `
  const tty = (stream) => stream.isTTY === true;
  console.log('stdout=' + tty(process.stdout) + ' stderr=' + tty(process.stderr) + ' stdin=' + tty(process.stdin)
    + ' cols=' + process.stdout.columns + ' probe=' + process.env.PROBE);
  process.stdin.once('data', (line) => { console.log('read ' + JSON.stringify(String(line).trim())); process.exit(7); });
`;

describe('the tmux harness', () => {
  it('runs the program on a terminal, with the environment it was given', async () => {
    const session = await start(probe, { PROBE: 'yes' });
    const screen = await session.waitForText('probe=');
    expect(screen).toContain('stdout=true stderr=true stdin=true cols=100 probe=yes');
  });

  it('types text, and reports the exit status', async () => {
    const session = await start(probe);
    await session.waitForText('probe=');
    await session.type('hello $HOME');
    await session.sendKeys('Enter');
    await session.waitForText('read "hello $HOME"');
    expect(await session.waitForExit()).toEqual({ status: 7, signal: undefined });
  });

  it('delivers Ctrl-C as SIGINT to the program', async () => {
    const session = await start(`
      process.on('SIGINT', () => { console.log('got SIGINT'); process.exitCode = 130; clearInterval(timer); });
      const timer = setInterval(() => {}, 1000);
      console.log('ready');
    `);
    await session.waitForText('ready');
    await session.sendKeys('C-c');
    await session.waitForText('got SIGINT');
    expect(await session.waitForExit()).toEqual({ status: 130, signal: undefined });
  });

  it('sees a program that does not handle Ctrl-C die of SIGINT', async () => {
    const session = await start(`console.log('ready'); setInterval(() => {}, 1000);`);
    await session.waitForText('ready');
    await session.sendKeys('C-c');
    expect(await session.waitForExit()).toEqual({ status: undefined, signal: 'SIGINT' });
  });

  it('fails a wait at its deadline, showing the pane', async () => {
    const session = await start(`console.log('something else'); setInterval(() => {}, 1000);`);
    await session.waitForText('something else');
    await expect(session.waitForText('never printed', 200)).rejects.toThrow(
      /did not show within 200 ms[\s\S]*something else/,
    );
  });
});
