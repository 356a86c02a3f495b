/**
 * Whether to open a web browser at a URL, and opening it. Never over SSH, never without a display on
 * Linux and the other X11/Wayland systems, never when the user said not to (`--no-browser`,
 * `CLAVIS_NO_BROWSER`, `BROWSER=none`). `BROWSER` names the launcher; otherwise the platform's own. The
 * launcher is started detached, without a shell, with the URL as one argv entry, so nothing in the URL is
 * ever interpreted; a failure is returned for the caller to report, never thrown.
 */
import { spawn } from 'node:child_process';

export type Env = Readonly<Record<string, string | undefined>>;

export interface BrowserContext {
  env: Env;
  platform: NodeJS.Platform;
  /** `--no-browser` was given. */
  noBrowser?: boolean;
}

/** Why no browser is opened: said by the user, or no browser could be seen by them. */
export type NoBrowserReason = 'no_browser_flag' | 'disabled_by_env' | 'ssh' | 'no_display';

export type BrowserDecision = { open: true } | { open: false; reason: NoBrowserReason };

export type BrowserOpenResult =
  | { opened: true; command: string }
  | { opened: false; reason: NoBrowserReason }
  | { opened: false; reason: 'invalid_url' | 'launch_failed'; message: string };

export interface LaunchCommand {
  command: string;
  args: string[];
}

const set = (value: string | undefined): boolean => value !== undefined && value !== '';
/** `CLAVIS_NO_BROWSER` set to one of these (any case) does not disable the browser. */
const falsy = new Set(['0', 'false', 'no', 'off']);

/** The rules, in the order they are checked; the first that applies says no. */
export function decideBrowser(context: BrowserContext): BrowserDecision {
  const { env, platform } = context;
  if (context.noBrowser) return { open: false, reason: 'no_browser_flag' };
  const optOut = env.CLAVIS_NO_BROWSER;
  if (set(optOut) && !falsy.has(optOut?.toLowerCase() ?? ''))
    return { open: false, reason: 'disabled_by_env' };
  if (env.BROWSER?.trim().toLowerCase() === 'none') return { open: false, reason: 'disabled_by_env' };
  if (set(env.SSH_CONNECTION) || set(env.SSH_TTY) || set(env.SSH_CLIENT))
    return { open: false, reason: 'ssh' };
  const ownLauncher = platform === 'darwin' || platform === 'win32';
  if (!ownLauncher && !set(env.DISPLAY) && !set(env.WAYLAND_DISPLAY))
    return { open: false, reason: 'no_display' };
  return { open: true };
}

export class BrowserLaunchError extends Error {
  override name = 'BrowserLaunchError';
}

/**
 * The argv that opens URL: `BROWSER` split like a shell would split words (quotes and backslashes, but no
 * expansion of any kind) with `%s` replaced by the URL, or the URL appended; else `open` on macOS,
 * `rundll32 url.dll,FileProtocolHandler` on Windows (`start` is a cmd.exe built-in: it would need a
 * shell, which would interpret `&` in the URL), `xdg-open` elsewhere.
 */
export function launchCommand(url: string, env: Env, platform: NodeJS.Platform): LaunchCommand {
  const browser = env.BROWSER?.trim();
  if (browser) {
    const words = splitWords(browser);
    const [command, ...rest] = words;
    if (command === undefined) throw new BrowserLaunchError('BROWSER names no command');
    const placed = rest.some((word) => word.includes('%s'));
    const args = placed ? rest.map((word) => word.replaceAll('%s', url)) : [...rest, url];
    return { command, args };
  }
  if (platform === 'darwin') return { command: 'open', args: [url] };
  if (platform === 'win32') return { command: 'rundll32', args: ['url.dll,FileProtocolHandler', url] };
  return { command: 'xdg-open', args: [url] };
}

/** Splits TEXT into words as a POSIX shell would, without expanding anything: blanks, quotes, backslashes. */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text.charAt(i);
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word = (word ?? '') + char;
    } else if (char === '\\') {
      if (i + 1 >= text.length) throw new BrowserLaunchError('BROWSER ends with a lone backslash');
      const next = text.charAt(++i);
      // Inside "…" a backslash escapes only what a POSIX shell lets it escape there.
      word = (word ?? '') + (quote === '"' && !'"\\$`'.includes(next) ? `\\${next}` : next);
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
      else word = (word ?? '') + char;
    } else if (char === '"' || char === "'") {
      quote = char;
      word ??= '';
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + char;
    }
  }
  if (quote) throw new BrowserLaunchError('BROWSER has an unterminated quote');
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * Opens URL (http or https only) in a browser when `decideBrowser` allows it. Resolves once the launcher
 * has started (or failed to); it is not waited for, and does not keep this process alive.
 *
 * @example
 * const result = await openBrowser(verificationUriComplete, { env: process.env, platform: process.platform });
 * if (!result.opened && result.reason === 'launch_failed') stderr.write(`Could not open a browser: ${result.message}\n`);
 */
export async function openBrowser(url: string, context: BrowserContext): Promise<BrowserOpenResult> {
  const decision = decideBrowser(context);
  if (!decision.open) return { opened: false, reason: decision.reason };
  let href: string;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new TypeError('not http(s)');
    href = parsed.href;
  } catch {
    return { opened: false, reason: 'invalid_url', message: 'only http and https URLs are opened' };
  }
  let launch: LaunchCommand;
  try {
    launch = launchCommand(href, context.env, context.platform);
  } catch (error) {
    return { opened: false, reason: 'launch_failed', message: (error as Error).message };
  }
  return new Promise((resolve) => {
    const failed = (error: NodeJS.ErrnoException): void =>
      resolve({
        opened: false,
        reason: 'launch_failed',
        message: `${launch.command}: ${error.code ?? error.message}`,
      });
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(launch.command, launch.args, {
        detached: true,
        stdio: 'ignore',
        env: { ...context.env },
        windowsHide: true,
      });
    } catch (error) {
      failed(error as NodeJS.ErrnoException); // spawn throws on arguments it cannot pass, e.g. a NUL byte
      return;
    }
    child.once('error', failed);
    child.once('spawn', () => {
      child.unref();
      resolve({ opened: true, command: launch.command });
    });
  });
}
