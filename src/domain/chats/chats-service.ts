/**
 * Chats: direct and group, membership, the member's list, read positions.
 * Every refusal for a chat the caller is not in says "not found", whether or not
 * the chat exists.
 */
import { stripUnsafeCharacters } from '../../shared/text.js';
import { chatNotFound, conflict, forbidden, invalid, notFound, type Actor, type ChatSummary } from '../../model/index.js';
import { GROUP_TITLE_MAX } from '../../shared/frames.js';
import type { EventPublisher } from '../events/ports.js';
import type { UsersRepository } from '../users/ports.js';
import { byLatestActivity, directChatId, isMember, newGroupChatId, summaryFor, type Chat } from './chat-rules.js';
import type { ChatsRepository } from './ports.js';

export interface ChatsService {
  openDirect(me: Actor, username: string): Promise<ChatSummary>;
  createGroup(me: Actor, title: string, usernames: readonly string[]): Promise<ChatSummary>;
  addMember(me: Actor, chatId: string, username: string): Promise<ChatSummary>;
  removeMember(me: Actor, chatId: string, userId: string): Promise<ChatSummary>;
  leave(me: Actor, chatId: string): Promise<void>;
  list(userId: string): Promise<ChatSummary[]>;
  /** The summaries of `chatIds` (the user's chat list as already read with their row), latest activity first. */
  summariesOf(userId: string, chatIds: readonly string[]): Promise<ChatSummary[]>;
  /** The chat, if `userId` is a member; otherwise the same not-found error for any chat. */
  requireMember(chatId: string, userId: string): Promise<Chat>;
  isMember(chatId: string, userId: string): Promise<boolean>;
  markRead(me: Actor, chatId: string, seq: number): Promise<void>;
}

export interface ChatsServiceDeps {
  chats: ChatsRepository;
  users: Pick<UsersRepository, 'getByUsername'>;
  events: EventPublisher;
  groupMaxMembers: number;
  clock: () => number;
  /** The highest seq a chat may have: nobody can have read past it. */
  seqCeiling: (chatId: string) => Promise<number>;
}

export function createChatsService(deps: ChatsServiceDeps): ChatsService {
  const { chats, users, events, clock } = deps;

  async function requireMember(chatId: string, userId: string): Promise<Chat> {
    const chat = await chats.get(chatId);
    if (!chat || !isMember(chat, userId)) throw chatNotFound();
    return chat;
  }

  async function userByName(username: string) {
    const user = await users.getByUsername(username.trim().toLowerCase());
    if (!user) throw notFound(`No user named "${username}"`);
    return user;
  }

  /** Tells every member what changed, each from their own point of view. */
  async function announce(chat: Chat, change: 'created' | 'updated', only?: readonly string[]) {
    const recipients = only ?? Object.keys(chat.members);
    await Promise.all(recipients.map((userId) => events.publish({ type: 'chat.changed', userId, change, chat: summaryFor(chat, userId) })));
  }

  async function summariesOf(userId: string, chatIds: readonly string[]): Promise<ChatSummary[]> {
    const found = await chats.getMany(chatIds);
    return found
      .filter((c) => isMember(c, userId))
      .map((c) => summaryFor(c, userId))
      .sort(byLatestActivity);
  }

  async function removeMember(me: Actor, chatId: string, userId: string): Promise<ChatSummary> {
    const chat = await requireMember(chatId, me.userId);
    if (chat.kind !== 'group') throw forbidden('Members can only be removed from a group');
    if (userId !== me.userId && chat.createdBy !== me.userId) throw forbidden("Only the group's creator can remove members");
    if (!isMember(chat, userId)) throw notFound('That user is not a member of this chat');
    const updated = await chats.removeMember(chatId, userId, me.userId, clock());
    if (!updated) throw conflict('The group changed meanwhile; try again');
    await events.publish({ type: 'chat.left', userId, chatId });
    await announce(updated, 'updated');
    return summaryFor(updated, me.userId);
  }

  return {
    requireMember,

    async isMember(chatId, userId) {
      const chat = await chats.get(chatId);
      return chat !== undefined && isMember(chat, userId);
    },

    async openDirect(me, username) {
      const other = await userByName(username);
      if (other.userId === me.userId) throw invalid('A direct chat needs another person');
      const chatId = directChatId(me.userId, other.userId);
      const existing = await chats.get(chatId);
      if (existing) return summaryFor(existing, me.userId);
      const now = clock();
      const chat: Chat = {
        chatId,
        kind: 'direct',
        title: '',
        createdBy: me.userId,
        createdAt: now,
        members: { [me.userId]: me.username, [other.userId]: other.username },
        lastSeq: 0,
        readSeq: { [me.userId]: 0, [other.userId]: 0 },
        updatedAt: now,
      };
      // Both people may open the chat at once: one create wins, the other reads it.
      const created = await chats.create(chat);
      const stored = created ? chat : await chats.get(chatId);
      if (!stored) throw conflict('The chat could not be opened; try again');
      if (created) await announce(stored, 'created');
      return summaryFor(stored, me.userId);
    },

    async createGroup(me, title, usernames) {
      // Control, bidi-override and zero-width characters could make one title read as another.
      const cleanTitle = stripUnsafeCharacters(title);
      if (!cleanTitle || cleanTitle.length > GROUP_TITLE_MAX) throw invalid(`A group title has 1 to ${GROUP_TITLE_MAX} characters`);
      const names = [...new Set(usernames.map((u) => u.trim().toLowerCase()).filter((u) => u && u !== me.username))];
      if (names.length + 1 > deps.groupMaxMembers) {
        throw invalid(`A group has at most ${deps.groupMaxMembers} members`, { limit: deps.groupMaxMembers });
      }
      const others = await Promise.all(names.map(userByName));
      const now = clock();
      const members: Record<string, string> = { [me.userId]: me.username };
      for (const user of others) members[user.userId] = user.username;
      const chat: Chat = {
        chatId: newGroupChatId(),
        kind: 'group',
        title: cleanTitle,
        createdBy: me.userId,
        createdAt: now,
        members,
        lastSeq: 0,
        readSeq: Object.fromEntries(Object.keys(members).map((id) => [id, 0])),
        updatedAt: now,
      };
      await chats.create(chat);
      await announce(chat, 'created');
      return summaryFor(chat, me.userId);
    },

    async addMember(me, chatId, username) {
      const chat = await requireMember(chatId, me.userId);
      if (chat.kind !== 'group') throw forbidden('Members can only be added to a group');
      if (chat.createdBy !== me.userId) throw forbidden("Only the group's creator can add members");
      const user = await userByName(username);
      if (isMember(chat, user.userId)) throw conflict(`${user.username} is already a member`);
      if (Object.keys(chat.members).length >= deps.groupMaxMembers) {
        throw invalid(`A group has at most ${deps.groupMaxMembers} members`, { limit: deps.groupMaxMembers });
      }
      const updated = await chats.addMember(chatId, user, me.userId, deps.groupMaxMembers, clock());
      if (!updated) throw conflict('The group changed meanwhile; try again');
      await announce(updated, 'created', [user.userId]);
      await announce(
        updated,
        'updated',
        Object.keys(updated.members).filter((id) => id !== user.userId),
      );
      return summaryFor(updated, me.userId);
    },

    removeMember,

    async leave(me, chatId) {
      await removeMember(me, chatId, me.userId);
    },

    async list(userId) {
      return summariesOf(userId, await chats.chatIdsOf(userId));
    },

    summariesOf,

    async markRead(me, chatId, seq) {
      if (seq > (await deps.seqCeiling(chatId))) {
        // Nobody has read a message that does not exist: ignored like a stale position,
        // after the same membership answer as any other read (a refusal reveals nothing).
        await requireMember(chatId, me.userId);
        return;
      }
      const result = await chats.markRead(chatId, me.userId, seq);
      if (result === 'not_member') throw chatNotFound();
      // A read position that does not move forward is not an error: tabs race each other.
      if (result === 'ok') await events.publish({ type: 'read.moved', chatId, userId: me.userId, seq });
    },
  };
}
