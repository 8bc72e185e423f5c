/**
 * The users of a load run, prepared as a person would be: each signs in through
 * the sign-in flow of the target it will connect to (the local provider's form; no
 * back door in the service), and the first member of each room creates the group
 * chat over the HTTP API. Members of a room alternate over the targets, so most of
 * a room's deliveries cross instances.
 */
import type WebSocket from 'ws';
import { signIn } from '../../test/helpers/sign-in.js';
import { inParallel } from './in-parallel.js';
import type { Target } from './load-options.js';

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
  signInSeconds: number;
  roomSeconds: number;
}

const ROOM_CONCURRENCY = 8;

export async function prepareUsers(
  options: { targets: Target[]; connections: number; members: number; signInConcurrency: number; tag: string },
  onProgress: (signedIn: number) => void,
): Promise<PreparedUsers> {
  const { targets, connections, members, tag } = options;
  const users: LoadUser[] = Array.from({ length: connections }, (_, index) => ({
    index,
    username: `lt${tag}u${index}`,
    cookie: '',
    target: targets[index % targets.length]!,
    room: Math.floor(index / members),
    slot: index % members,
    chatId: '',
    open: false,
  }));

  const signInStarted = performance.now();
  let signedIn = 0;
  await inParallel(users, options.signInConcurrency, async (user) => {
    user.cookie = (await signIn(user.target.baseUrl, user.username)).cookie;
    onProgress(++signedIn);
  });
  const signInSeconds = (performance.now() - signInStarted) / 1000;

  const rooms: Room[] = [];
  for (const user of users) (rooms[user.room] ??= { index: user.room, chatId: '', members: [] }).members.push(user);
  const roomStarted = performance.now();
  await inParallel(rooms, ROOM_CONCURRENCY, async (room) => {
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
  return { users, rooms, signInSeconds, roomSeconds: (performance.now() - roomStarted) / 1000 };
}
