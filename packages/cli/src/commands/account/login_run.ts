/**
 * `clavis login`: a person's login with the device flow against the server's `clavis-cli` client. The
 * one-time code and the link go to stderr; at a terminal also a QR code of the link, an offer to open
 * the browser on Enter (never over SSH, without a display, or with `--no-browser`) and a spinner while
 * the server is polled. Without a terminal it prints the code and link and waits. Ctrl-C cancels.
 */
import type { Readable, Writable } from 'node:stream';
import type { DeviceCode } from '@clavis/sdk';
import { type Env, writeLine } from '../../io.js';
import { decideBrowser, openBrowser } from '../../terminal/browser.js';
import { renderQrCode } from '../../terminal/qr.js';
import { type Spinner, spinnerAnimates, startSpinner } from '../../terminal/spinner.js';
import { cliClient, isTty, withSdkErrors } from './client.js';
import { resolveServer } from './server.js';

export interface LoginOptions {
  server?: string;
  /** False with `--no-browser`. */
  browser: boolean;
  scope?: string[];
}

export interface LoginDeps {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Env;
  /** Resolves when the process is asked to stop (Ctrl-C). */
  stopSignal: Promise<string>;
  platform?: NodeJS.Platform;
}

export async function runLogin(options: LoginOptions, deps: LoginDeps): Promise<void> {
  const issuer = await resolveServer(options.server, deps.env);
  const terminal = isTty(deps.stdin) && isTty(deps.stderr);
  const browser = { env: deps.env, platform: deps.platform ?? process.platform, noBrowser: !options.browser };
  const controller = new AbortController();
  void deps.stopSignal.then(() => controller.abort());
  let spinner: Spinner | undefined;
  let stopWaitingForEnter = (): void => {};

  const onCode = (code: DeviceCode): void => {
    const err = deps.stderr;
    writeLine(err, `! First copy your one-time code: ${code.userCode}`);
    if (!terminal) {
      writeLine(err, `Open this link in a browser to approve: ${code.verificationUriComplete}`);
      writeLine(err, 'Waiting for approval…');
      return;
    }
    err.write(renderQrCode(code.verificationUriComplete));
    const decision = decideBrowser(browser);
    if (decision.open) {
      writeLine(err, `Press Enter to open ${code.verificationUriComplete} in your browser…`);
      stopWaitingForEnter = onEnter(deps.stdin, () => {
        void openBrowser(code.verificationUriComplete, browser).then((result) => {
          if (!result.opened && 'message' in result) {
            writeLine(err, `Could not open a browser (${result.message}): open the link yourself.`);
          }
        });
      });
    } else {
      writeLine(err, `Scan the QR code or open this link in a browser: ${code.verificationUriComplete}`);
    }
    spinner = startSpinner(err, 'Waiting for approval…', { animate: spinnerAnimates(err, deps.env) });
  };

  // `profile` puts the person's username in the id_token, for "Logged in … as USERNAME" and whoami.
  const scopes = [...new Set(['openid', 'profile', ...(options.scope ?? [])])];
  try {
    const token = await withSdkErrors(() =>
      // A notice while the spinner runs (where the login is stored) goes on a line of its own.
      cliClient(
        issuer,
        { ...deps, notice: (line) => (spinner ? spinner.print(line) : writeLine(deps.stderr, line)) },
        scopes,
      ).login({
        onCode,
        signal: controller.signal,
      }),
    );
    spinner?.stop();
    const who = token.principal.username ?? token.principal.sub ?? 'an unnamed person';
    writeLine(deps.stderr, `Logged in to ${issuer} as ${who}`);
    // A scope asked for with --scope that the server withheld (e.g. admin for a person who is not an
    // administrator) is said now, not discovered at the first command that needs it.
    const withheld = (options.scope ?? []).filter((s) => !token.scopes.includes(s));
    if (withheld.length > 0) {
      writeLine(
        deps.stderr,
        `Not granted: ${[...new Set(withheld)].join(' ')} (asked for with --scope; the server gives ${who} only what they are entitled to)`,
      );
    }
  } finally {
    spinner?.stop();
    stopWaitingForEnter();
  }
}

/** Calls ACTION once on the first Enter typed on STDIN; the returned function stops listening. */
function onEnter(stdin: Readable, action: () => void): () => void {
  const listener = (chunk: Buffer | string): void => {
    if (!chunk.toString().includes('\n') && !chunk.toString().includes('\r')) return;
    stop();
    action();
  };
  const stop = (): void => {
    stdin.off('data', listener);
    stdin.pause();
  };
  stdin.on('data', listener);
  stdin.resume();
  return stop;
}
