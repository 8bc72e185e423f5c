/**
 * Quota counters on the `WebSocketUsers` row: `quota_day` (UTC 'YYYY-MM-DD'),
 * `messages_today`, `storage_bytes`, and the tier as `is_premium`. Each change is
 * a conditional UpdateItem whose condition reads `is_premium` itself, so the limit
 * that applies is the one in force at the moment of the write, on every instance.
 */
import type { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { CountOutcome, QuotasRepository, StorageLimits, TierChange } from '../../domain/quotas/ports.js';
import type { QuotaUsage } from '../../domain/quotas/quota-policy.js';
import type { Tier } from '../../model/index.js';
import type { Documents, UpdateInput } from './document.js';
import { conditionFailed } from './failures.js';
import { fromAttributes } from './items.js';
import { createUsersRepository } from './users-repository.js';
import { userKey } from './table.js';
import { toUsage } from './user-row.js';

function oldItemOf(err: ConditionalCheckFailedException): Record<string, unknown> | undefined {
  return err.Item ? fromAttributes(err.Item) : undefined;
}

// The tier branches of every limit condition: `is_premium` is read by the condition itself.
const PREMIUM = 'is_premium = :true';
const FREE = 'NOT (is_premium = :true)';

export function createQuotasRepository(db: Documents, tableName: string): QuotasRepository {
  const users = createUsersRepository(db, tableName);

  /** One conditional update; on a failed condition, the row as it was (or undefined when there is none). */
  async function conditionalUpdate(
    input: Omit<UpdateInput, 'TableName' | 'ReturnValues' | 'ReturnValuesOnConditionCheckFailure'>,
  ): Promise<{ ok: true; item: Record<string, unknown> } | { ok: false; item: Record<string, unknown> | undefined }> {
    try {
      const row = await db.update({
        ...input,
        TableName: tableName,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
      return { ok: true, item: row! };
    } catch (err) {
      if (conditionFailed(err)) return { ok: false, item: oldItemOf(err) };
      throw err;
    }
  }

  async function getUsage(userId: string): Promise<QuotaUsage | undefined> {
    const row = await db.get({ TableName: tableName, Key: userKey(userId), ConsistentRead: true });
    return row ? toUsage(row) : undefined;
  }

  return {
    getUsage,

    async reserveStorage(userId: string, bytes: number, limits: StorageLimits): Promise<CountOutcome | undefined> {
      // Conditions cannot add, so "stored + bytes <= limit" is written "stored <= limit - bytes".
      // A tier whose whole limit is below `bytes` gets no branch at all.
      const branches: string[] = [];
      const values: Record<string, unknown> = { ':bytes': bytes, ':true': true };
      for (const [tier, clause] of [
        ['free', FREE],
        ['premium', PREMIUM],
      ] as const) {
        const room = limits[tier] - bytes;
        if (room < 0) continue;
        values[`:${tier}Room`] = room;
        branches.push(`${clause} AND (attribute_not_exists(storage_bytes) OR storage_bytes <= :${tier}Room)`);
      }
      if (branches.length === 0) {
        const usage = await getUsage(userId);
        return usage && { accepted: false, usage };
      }
      const res = await conditionalUpdate({
        Key: userKey(userId),
        UpdateExpression: 'ADD storage_bytes :bytes',
        // DynamoDB refuses redundant parentheses, so a lone branch goes in bare.
        ConditionExpression: `attribute_exists(user_id) AND ${branches.length > 1 ? `(${branches.map((b) => `(${b})`).join(' OR ')})` : branches[0]}`,
        ExpressionAttributeValues: values,
      });
      if (!res.item) return undefined;
      return { accepted: res.ok, usage: toUsage(res.item) };
    },

    async releaseStorage(userId: string, bytes: number): Promise<QuotaUsage | undefined> {
      const res = await conditionalUpdate({
        Key: userKey(userId),
        UpdateExpression: 'ADD storage_bytes :minus',
        ConditionExpression: 'storage_bytes >= :bytes',
        ExpressionAttributeValues: { ':minus': -bytes, ':bytes': bytes },
      });
      if (res.ok || !res.item) return res.item && toUsage(res.item);
      // Less is stored than we are asked to give back (an earlier release was repeated):
      // settle at zero rather than go negative.
      const zeroed = await conditionalUpdate({
        Key: userKey(userId),
        UpdateExpression: 'SET storage_bytes = :zero',
        ConditionExpression: 'attribute_exists(user_id) AND (attribute_not_exists(storage_bytes) OR storage_bytes < :bytes)',
        ExpressionAttributeValues: { ':zero': 0, ':bytes': bytes },
      });
      return zeroed.item && toUsage(zeroed.item);
    },

    async findUserIdByUsername(username: string): Promise<string | undefined> {
      return (await users.getByUsername(username))?.userId;
    },

    async setTier(userId: string, tier: Tier): Promise<TierChange | undefined> {
      try {
        const row = await db.update({
          TableName: tableName,
          Key: userKey(userId),
          UpdateExpression: 'SET is_premium = :premium',
          ConditionExpression: 'attribute_exists(user_id)',
          ExpressionAttributeValues: { ':premium': tier === 'premium' },
          ReturnValues: 'ALL_OLD',
        });
        const previous = toUsage(row!);
        return { previous, current: { ...previous, tier } };
      } catch (err) {
        if (conditionFailed(err)) return undefined;
        throw err;
      }
    },
  };
}
