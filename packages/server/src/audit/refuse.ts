/**
 * Refusing a request that must leave a record: record the refusal in the failure log, then throw the
 * error the caller answers with. A refusal `charged` to the caller's address (an unauthenticated caller
 * guessing credentials) is answered 429 instead once the address is over its budget; one not charged
 * (an authenticated caller asking about something) is only recorded. Either way, alike refusals are
 * aggregated into one record.
 */
import { TooManyRequests } from '@clavis/core';
import type { Failure, FailureLog } from './failure_log.js';

export async function refuseWith(
  failures: FailureLog,
  failure: Failure,
  error: Error,
  options: { charge: boolean },
): Promise<never> {
  if (!options.charge) await failures.note(failure);
  else {
    const verdict = await failures.fail(failure);
    if (verdict.throttled) {
      throw new TooManyRequests('too many refused attempts from this address', verdict.retryAfterSeconds);
    }
  }
  throw error;
}
