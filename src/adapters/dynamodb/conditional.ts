/**
 * The one place that recognises DynamoDB's "your condition did not hold" answers:
 * a single write's ConditionalCheckFailedException, and a transaction cancelled
 * because one of its items failed its condition. Repositories turn these into
 * domain outcomes (not a member, quota reached, duplicate); anything else is a
 * real failure and propagates.
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
