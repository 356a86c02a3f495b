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
