/**
 * The users of a load run, prepared in one of two ways, neither a back door in the
 * service: `sign-in`, each signs in through the sign-in flow of the target it will
 * connect to (the local provider's form, as a person would); `tables`, an operator
 * with table access writes their user and session rows directly (table-users.ts),
 * which also works against a deployed stack. Then the first member of each room
 * creates the group chat over the HTTP API. Members of a room alternate over the
 * targets, so most of a room's deliveries cross instances.
 */
import type WebSocket from 'ws';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { signIn } from '../../test/helpers/sign-in.js';
import { inParallel } from './in-parallel.js';
import type { Target } from './load-options.js';
import { writeUsersToTables } from './table-users.js';

export interface LoadUser {
  index: number;
  username: string;
  cookie: string;
  target: Target;
  room: number;
  /** Position within the room: deliveries are counted per slot. */
  slot: number;
  chatId: string;
  socket?: WebSocket;
  open: boolean;
}

export interface Room {
  index: number;
  chatId: string;
  members: LoadUser[];
}

export interface PreparedUsers {
  users: LoadUser[];
  rooms: Room[];
  /** Time to get every user a session cookie, whichever the way. */
  signInSeconds: number;
  roomSeconds: number;
}

/** Where the users' rows go in `tables` mode: the service's tables, reached with the operator's credentials. */
export interface UserTables {
  client: DynamoDBClient;
  tablePrefix: string;
}

/**
 * Room creations in flight. A group's creation is one transaction of its chat row plus one item
 * per member: with large rooms, fewer at once keep DynamoDB Local within the SDK's request timeout.
 */
const roomConcurrency = (members: number) => (members > 25 ? 2 : 8);

export async function prepareUsers(
  options: {
    targets: Target[];
    connections: number;
    members: number;
    signInConcurrency: number;
    tag: string;
    /** Absent: every user signs in through the targets' sign-in flow. */
    tables?: UserTables | undefined;
  },
  onProgress: (signedIn: number) => void,
): Promise<PreparedUsers> {
  const { targets, connections, members, tag, tables } = options;
  const users = layoutUsers(targets, connections, members, (index) => `lt${tag}u${index}`);

  const signInStarted = performance.now();
  let signedIn = 0;
  if (tables) {
    const people = users.map((u) => ({ username: u.username, secure: u.target.baseUrl.startsWith('https:') }));
    const { cookies } = await writeUsersToTables(tables.client, tables.tablePrefix, people);
    for (const [i, user] of users.entries()) user.cookie = cookies[i]!;
    onProgress(users.length);
  } else {
    await inParallel(users, options.signInConcurrency, async (user) => {
      user.cookie = (await signIn(user.target.baseUrl, user.username)).cookie;
      onProgress(++signedIn);
    });
  }
  const signInSeconds = (performance.now() - signInStarted) / 1000;
  const roomStarted = performance.now();
  const rooms = await createRooms(users);
  return { users, rooms, signInSeconds, roomSeconds: (performance.now() - roomStarted) / 1000 };
}

/** `count` users, consecutive ones sharing a room of `members`, placed round-robin over the targets (so a room spans them all). */
export function layoutUsers(targets: Target[], count: number, members: number, username: (index: number) => string): LoadUser[] {
  return Array.from({ length: count }, (_, index) => ({
    index,
    username: username(index),
    cookie: '',
    target: targets[index % targets.length]!,
    room: Math.floor(index / members),
    slot: index % members,
    chatId: '',
    open: false,
  }));
}

export function roomsOf(users: LoadUser[]): Room[] {
  const rooms: Room[] = [];
  for (const user of users) (rooms[user.room] ??= { index: user.room, chatId: user.chatId, members: [] }).members.push(user);
  return rooms;
}

/** Groups consecutive users into rooms; each room's first member creates its group chat over the HTTP API. */
export async function createRooms(users: LoadUser[]): Promise<Room[]> {
  const rooms = roomsOf(users);
  await inParallel(rooms, roomConcurrency(rooms[0]?.members.length ?? 0), async (room) => {
    const owner = room.members[0]!;
    const res = await fetch(`${owner.target.baseUrl}/api/chats/group`, {
      method: 'POST',
      headers: { cookie: owner.cookie, 'content-type': 'application/json', origin: owner.target.baseUrl },
      body: JSON.stringify({ title: `load room ${room.index}`, members: room.members.slice(1).map((m) => m.username) }),
    });
    if (res.status !== 201) {
      throw new Error(
        `creating room ${room.index} (${room.members.length} members) failed: HTTP ${res.status} ${await res.text()}` +
          (res.status === 400 ? ' (is --members above the targets’ GROUP_MAX_MEMBERS?)' : ''),
      );
    }
    const { chat } = (await res.json()) as { chat: { chatId: string } };
    room.chatId = chat.chatId;
    for (const member of room.members) member.chatId = chat.chatId;
  });
  return rooms;
}
