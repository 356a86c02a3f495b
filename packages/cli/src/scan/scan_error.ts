/** A scan that could not be done (a path missing, git failing, a report refused): exit 3, not 1. */
import { CliError } from '../errors.js';

export const scanExitCodes = { clean: 0, findings: 1, error: 3 } as const;

export class ScanError extends CliError {
  override name = 'ScanError';
  /** `detail` (e.g. git's exit code) is kept for debugging, never shown. */
  constructor(
    message: string,
    readonly detail?: number,
  ) {
    super(message, scanExitCodes.error);
  }
}
