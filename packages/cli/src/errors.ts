/** Errors the CLI reports as one line on stderr, with a stable exit code. */
export const exitCodes = { ok: 0, error: 1, cancelled: 2, auth: 4 } as const;

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = exitCodes.error,
  ) {
    super(message);
  }
}

/** An exit code whose message is already written (e.g. on stdout, where a helper protocol wants it). */
export class QuietExit extends CliError {
  override name = 'QuietExit';
  constructor(exitCode: number) {
    super('', exitCode);
  }
}
