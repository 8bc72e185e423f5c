import type { SessionRecord, SessionsRepository, SessionTokens } from '../../domain/sessions/ports.js';
import type { Documents } from './document.js';
import { appliedIfCondition } from './failures.js';
import { TTL_ATTRIBUTE, sessionKey } from './table.js';

type SessionItem = {
  session_id: string;
  user_id: string;
  id_token?: string;
  access_token: string;
  refresh_token?: string;
  access_token_expires_at: number;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  [TTL_ATTRIBUTE]: number;
  refresh_claimed_at?: number;
};

function toRecord(item: Record<string, unknown>): SessionRecord {
  const s = item as SessionItem;
  return {
    sessionHash: s.session_id,
    userId: s.user_id,
    tokens: {
      idToken: s.id_token,
      accessToken: s.access_token,
      refreshToken: s.refresh_token,
      accessTokenExpiresAt: s.access_token_expires_at,
    },
    createdAt: s.created_at,
    lastSeenAt: s.last_seen_at,
    expiresAt: s.expires_at,
    ttl: s[TTL_ATTRIBUTE],
    refreshClaimedAt: s.refresh_claimed_at,
  };
}

/** The row `create` writes: also what an operator's tool writes to prepare sessions in bulk (BatchWriteItem). */
export function sessionItem(record: SessionRecord): SessionItem {
  return {
    ...sessionKey(record.sessionHash),
    user_id: record.userId,
    ...tokenAttributes(record.tokens),
    created_at: record.createdAt,
    last_seen_at: record.lastSeenAt,
    expires_at: record.expiresAt,
    [TTL_ATTRIBUTE]: record.ttl,
    ...(record.refreshClaimedAt === undefined ? {} : { refresh_claimed_at: record.refreshClaimedAt }),
  };
}

function tokenAttributes(tokens: SessionTokens) {
  return {
    access_token: tokens.accessToken,
    access_token_expires_at: tokens.accessTokenExpiresAt,
    ...(tokens.idToken ? { id_token: tokens.idToken } : {}),
    ...(tokens.refreshToken ? { refresh_token: tokens.refreshToken } : {}),
  };
}

/** UserSessions in DynamoDB: one row per session, keyed by the hash of the cookie's id. */
export function createSessionsRepository(db: Documents, tableName: string): SessionsRepository {
  return {
    async create(record) {
      await db.put({
        TableName: tableName,
        Item: sessionItem(record),
        ConditionExpression: 'attribute_not_exists(session_id)',
      });
    },

    async get(sessionHash) {
      const row = await db.get({ TableName: tableName, Key: sessionKey(sessionHash), ConsistentRead: true });
      return row ? toRecord(row) : undefined;
    },

    touch(sessionHash, now, ifLastSeenBefore) {
      return appliedIfCondition(
        db.update({
          TableName: tableName,
          Key: sessionKey(sessionHash),
          UpdateExpression: 'SET last_seen_at = :now',
          ConditionExpression: 'attribute_exists(session_id) AND last_seen_at < :before',
          ExpressionAttributeValues: { ':now': now, ':before': ifLastSeenBefore },
        }),
      );
    },

    claimTokenRefresh(sessionHash, now, staleBefore) {
      return appliedIfCondition(
        db.update({
          TableName: tableName,
          Key: sessionKey(sessionHash),
          UpdateExpression: 'SET refresh_claimed_at = :now',
          ConditionExpression: 'attribute_exists(session_id) AND (attribute_not_exists(refresh_claimed_at) OR refresh_claimed_at < :stale)',
          ExpressionAttributeValues: { ':now': now, ':stale': staleBefore },
        }),
      );
    },

    saveRefreshedTokens(sessionHash, tokens) {
      const attributes = tokenAttributes(tokens);
      const names = Object.keys(attributes);
      return appliedIfCondition(
        db.update({
          TableName: tableName,
          Key: sessionKey(sessionHash),
          UpdateExpression: `SET ${names.map((n) => `${n} = :${n}`).join(', ')} REMOVE refresh_claimed_at`,
          ConditionExpression: 'attribute_exists(session_id)',
          ExpressionAttributeValues: Object.fromEntries(Object.entries(attributes).map(([n, v]) => [`:${n}`, v])),
        }),
      );
    },

    async delete(sessionHash) {
      const row = await db.delete({ TableName: tableName, Key: sessionKey(sessionHash), ReturnValues: 'ALL_OLD' });
      return row ? toRecord(row) : undefined;
    },
  };
}
