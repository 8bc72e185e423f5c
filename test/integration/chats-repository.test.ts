/**
 * Groups larger than one DynamoDB transaction (100 items: the chat row and 99
 * members): every member gets the chat in their list, and a creation that fails
 * half-way leaves no member listing a chat that does not exist.
 */
import t from 'tap';
import { createDynamoClient } from '../../src/adapters/dynamodb/client.js';
import { documentsOver } from '../../src/adapters/dynamodb/document.js';
import { ensureTables } from '../../src/adapters/dynamodb/tables-admin.js';
import { tableNames } from '../../src/adapters/dynamodb/table.js';
import { createUsersRepository } from '../../src/adapters/dynamodb/users-repository.js';
import { createChatsRepository } from '../../src/adapters/dynamodb/chats-repository.js';
import { newGroupChatId, type Chat } from '../../src/domain/chats/chat-rules.js';
import { requireEnv, uniqueId } from '../helpers/test-stack.js';

const tables = tableNames(`${uniqueId('chats')}-`);
const client = createDynamoClient({ region: 'us-east-1', endpoint: requireEnv('DYNAMODB_ENDPOINT') });
t.teardown(() => client.destroy());
await ensureTables(client, tables);
const db = documentsOver(client);
const users = createUsersRepository(db, tables.users);
const chats = createChatsRepository(db, tables);

async function signedUp(count: number, label: string): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${label}-${i}`);
  for (let i = 0; i < ids.length; i += 25) {
    await Promise.all(ids.slice(i, i + 25).map((userId) => users.upsertOnSignIn({ userId, username: userId }, Date.now())));
  }
  return ids;
}

function group(memberIds: string[]): Chat {
  const now = Date.now();
  return {
    chatId: newGroupChatId(),
    kind: 'group',
    title: 'big room',
    createdBy: memberIds[0]!,
    createdAt: now,
    members: Object.fromEntries(memberIds.map((id) => [id, id])),
    lastSeq: 0,
    readSeq: {},
    lastMessage: undefined,
    updatedAt: now,
  };
}

t.test('a group of 250 is created whole: the chat row and every member list', async (t) => {
  const memberIds = await signedUp(250, 'big');
  const chat = group(memberIds);
  t.equal(await chats.create(chat), true);
  t.equal(Object.keys((await chats.get(chat.chatId))!.members).length, 250, 'the chat row names all 250');
  const unlisted = [];
  for (const id of memberIds) if (!(await chats.chatIdsOf(id)).includes(chat.chatId)) unlisted.push(id);
  t.same(unlisted, [], 'every member lists the chat');
});

t.test('a creation refused half-way leaves no list pointing at a chat that does not exist', async (t) => {
  const memberIds = await signedUp(230, 'half');
  // Members 99 to 198 are listed by the first transaction of their own; one after them has no
  // user row, so the second is refused, and the first must be undone.
  const chat = group([...memberIds.slice(0, 210), 'nobody-signed-up', ...memberIds.slice(210)]);
  await t.rejects(chats.create(chat), 'the creation fails');
  t.equal(await chats.get(chat.chatId), undefined, 'no chat row');
  const listing = [];
  for (const id of memberIds) if ((await chats.chatIdsOf(id)).includes(chat.chatId)) listing.push(id);
  t.same(listing, [], 'no member lists it');
});
