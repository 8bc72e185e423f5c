import type { SignInProfile, UsersRepository } from '../../domain/users/ports.js';
import type { Documents } from './document.js';
import { toUsage, toUser } from './user-row.js';
import { USERNAME_INDEX, userKey } from './table.js';

/**
 * The row `upsertOnSignIn` creates for someone signing in for the first time (free
 * tier): what an operator's tool writes to prepare users in bulk (BatchWriteItem).
 */
export function newUserItem(profile: Pick<SignInProfile, 'userId' | 'username' | 'email'>, now: number): Record<string, unknown> {
  return {
    ...userKey(profile.userId),
    username: profile.username,
    email: profile.email ?? null,
    is_premium: false,
    created_at: now,
    updated_at: now,
  };
}

export function createUsersRepository(db: Documents, tableName: string): UsersRepository {
  return {
    async upsertOnSignIn(profile: SignInProfile, now: number) {
      // The tier follows the provider's groups only when sign-in says so; otherwise a
      // tier set by an operator (npm run user:tier) is left as it is.
      const tier =
        profile.premium === undefined
          ? { clause: 'is_premium = if_not_exists(is_premium, :premium)', premium: false }
          : { clause: 'is_premium = :premium', premium: profile.premium };
      const row = await db.update({
        TableName: tableName,
        Key: userKey(profile.userId),
        UpdateExpression: `SET username = :username, email = :email, updated_at = :now, created_at = if_not_exists(created_at, :now), ${tier.clause}`,
        ExpressionAttributeValues: {
          ':username': profile.username,
          ':email': profile.email ?? null,
          ':now': now,
          ':premium': tier.premium,
        },
        ReturnValues: 'ALL_NEW',
      });
      return toUser(row!);
    },

    async getAccount(userId) {
      const row = await db.get({ TableName: tableName, Key: userKey(userId), ConsistentRead: true });
      if (!row) return undefined;
      const chatIds = row.chat_ids instanceof Set ? [...(row.chat_ids as Set<string>)] : [];
      return { user: toUser(row), chatIds, usage: toUsage(row) };
    },

    async getById(userId) {
      const row = await db.get({ TableName: tableName, Key: userKey(userId), ConsistentRead: true });
      return row ? toUser(row) : undefined;
    },

    async getByUsername(username) {
      const { items } = await db.query({
        TableName: tableName,
        IndexName: USERNAME_INDEX,
        KeyConditionExpression: 'username = :u',
        ExpressionAttributeValues: { ':u': username },
        Limit: 1,
      });
      const item = items[0];
      return item ? toUser(item) : undefined;
    },
  };
}
