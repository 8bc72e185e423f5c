/**
 * Users of a load run prepared as an operator with table access would: one
 * `WebSocketUsers` row and one `UserSessions` row per user, written straight into the
 * tables with BatchWriteItem and the operator's AWS credentials, in the item shapes
 * the service itself writes (`newUserItem`, `sessionItem`). The cookie handed back is
 * what the service's own sign-in would have set: a fresh 256-bit session id whose
 * SHA-256 keys the session row. No HTTP back door in the service is involved, so it
 * works against a deployed stack, whose sign-in (Cognito) asks for a password.
 *
 * Half-way failure: rows already written stay. User rows have no expiry (they are
 * ordinary free-tier users named `lt<tag>u<n>`); session rows end by themselves after
 * `PREPARED_SESSION_HOURS` (their absolute expiry and TTL). A new run uses a new tag,
 * so leftovers never collide with it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchWriteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { hashSessionId, newSessionId } from '../../src/domain/sessions/session-service.js';
import type { SessionRecord } from '../../src/domain/sessions/ports.js';
import { sessionItem } from '../../src/adapters/dynamodb/sessions-repository.js';
import { newUserItem } from '../../src/adapters/dynamodb/users-repository.js';
import { toAttributes } from '../../src/adapters/dynamodb/items.js';
import { tableNames } from '../../src/adapters/dynamodb/table.js';
import { sessionCookieName } from '../../src/transport/http/session-cookie.js';
import { inParallel } from './in-parallel.js';

/** How long a prepared session lasts: a load run's day, then it expires like any other. */
export const PREPARED_SESSION_HOURS = 24;
/** BatchWriteItem takes at most 25 items. */
const ITEMS_PER_BATCH = 25;
const BATCHES_IN_FLIGHT = 8;
/** Unprocessed items (throttling) are retried with growing pauses, this many times, before the run gives up. */
const UNPROCESSED_RETRIES = 8;

export interface TablePerson {
  username: string;
  /** The target is https: the service's cookie then carries the `__Host-` prefix. */
  secure: boolean;
}

export interface TableWriteResult {
  /** `name=value` Cookie header per person, in order. */
  cookies: string[];
  /** BatchWriteItem requests sent, retries included. */
  requests: number;
}

/** The id of a user prepared in the tables: never a Cognito subject (those are UUIDs), never a local one. */
export const preparedUserId = (username: string) => `load-${username}`;

export async function writeUsersToTables(
  db: DynamoDBClient,
  tablePrefix: string,
  people: TablePerson[],
  now = Date.now(),
): Promise<TableWriteResult> {
  const tables = tableNames(tablePrefix);
  const expiresAt = now + PREPARED_SESSION_HOURS * 3600_000;
  const cookies: string[] = [];
  const writes: { table: string; request: WriteRequest }[] = [];
  for (const person of people) {
    const userId = preparedUserId(person.username);
    const sessionId = newSessionId();
    const session: SessionRecord = {
      sessionHash: hashSessionId(sessionId),
      userId,
      // No provider tokens exist for these users: without a refresh token the service never tries to refresh them.
      tokens: { accessToken: 'prepared-in-tables', accessTokenExpiresAt: expiresAt },
      createdAt: now,
      lastSeenAt: now,
      expiresAt,
      ttl: Math.ceil(expiresAt / 1000),
    };
    writes.push({
      table: tables.users,
      request: { PutRequest: { Item: toAttributes(newUserItem({ userId, username: person.username }, now)) } },
    });
    writes.push({ table: tables.sessions, request: { PutRequest: { Item: toAttributes(sessionItem(session)) } } });
    cookies.push(`${sessionCookieName({ secure: person.secure })}=${sessionId}`);
  }

  const batches: (typeof writes)[] = [];
  for (let i = 0; i < writes.length; i += ITEMS_PER_BATCH) batches.push(writes.slice(i, i + ITEMS_PER_BATCH));
  let requests = 0;
  let written = 0;
  try {
    await inParallel(batches, BATCHES_IN_FLIGHT, async (batch) => {
      let pending: Record<string, WriteRequest[]> = {};
      for (const { table, request } of batch) (pending[table] ??= []).push(request);
      for (let attempt = 0; ; attempt++) {
        requests += 1;
        const out = await db.send(new BatchWriteItemCommand({ RequestItems: pending }));
        const left = out.UnprocessedItems ?? {};
        const leftCount = Object.values(left).reduce((n, list) => n + list.length, 0);
        written += Object.values(pending).reduce((n, list) => n + list.length, 0) - leftCount;
        if (leftCount === 0) return;
        if (attempt >= UNPROCESSED_RETRIES)
          throw new Error(`${leftCount} items stayed unprocessed after ${attempt + 1} attempts (throttled)`);
        pending = left;
        await sleep(50 * 2 ** attempt);
      }
    });
  } catch (err) {
    throw new Error(
      `writing users into the tables (prefix "${tablePrefix}") failed after ${written} of ${writes.length} rows: ` +
        `${err instanceof Error ? err.message : String(err)}. Rows written stay: users as free-tier users, sessions until they expire in ${PREPARED_SESSION_HOURS} h.`,
      { cause: err },
    );
  }
  return { cookies, requests };
}
