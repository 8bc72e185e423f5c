/**
 * The one place that recognises DynamoDB's answers that are not plain failures:
 * "your condition did not hold" (a single write's ConditionalCheckFailedException,
 * a transaction cancelled because one of its items failed its condition), which
 * repositories turn into domain outcomes (not a member, quota reached, duplicate);
 * and transient failures (throttling, conflicts, timeouts, dropped connections),
 * which are worth repeating. Anything else is a real failure and propagates.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';

/** True when a single-item write was refused by its condition expression. */
export function conditionFailed(err: unknown): err is ConditionalCheckFailedException {
  return err instanceof ConditionalCheckFailedException;
}

/**
 * True when a transaction was cancelled because item `index` (or, without an
 * index, any item) failed its condition. A transaction cancelled for another
 * reason (a conflicting transaction, throttling) is not a condition failure.
 */
export function transactionConditionFailed(err: unknown, index?: number): boolean {
  if (!(err instanceof TransactionCanceledException)) return false;
  const reasons = err.CancellationReasons ?? [];
  if (index !== undefined) return reasons[index]?.Code === 'ConditionalCheckFailed';
  return reasons.some((reason) => reason.Code === 'ConditionalCheckFailed');
}

/** Indices of the items whose condition failed in a cancelled transaction (empty for any other error). */
export function failedConditionIndices(err: unknown): number[] {
  if (!(err instanceof TransactionCanceledException)) return [];
  return (err.CancellationReasons ?? []).flatMap((reason, i) => (reason.Code === 'ConditionalCheckFailed' ? [i] : []));
}

/** Runs a conditional write: true when it applied, false when its condition did not hold. */
export async function appliedIfCondition(write: Promise<unknown>): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (err) {
    if (conditionFailed(err)) return false;
    throw err;
  }
}

/** Error names of DynamoDB answers that say "not now" rather than "no". */
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionConflictException',
  'TransactionInProgressException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
/** Socket-level failures: the request may or may not have arrived. */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/** True for a failure that repeating the same request may get past. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const { code, $metadata } = err as { code?: string; $metadata?: { httpStatusCode?: number } };
  if (TRANSIENT_NAMES.has(err.name) || (code !== undefined && TRANSIENT_CODES.has(code))) return true;
  return ($metadata?.httpStatusCode ?? 0) >= 500;
}
