import { createHash, randomUUID } from 'node:crypto';
import type { ChatSummary, Member } from '../../transport/realtime/protocol.js';

export type ChatKind = 'direct' | 'group';

export interface Chat {
  chatId: string;
  kind: ChatKind;
  title: string;
  createdBy: string;
  createdAt: number;
  /** userId -> username, for every current member. */
  members: Record<string, string>;
  lastSeq: number;
  /** userId -> highest seq that member has read. */
  readSeq: Record<string, number>;
  lastMessage?: { seq: number; senderId: string; preview: string; at: number } | undefined;
  updatedAt: number;
}

/**
 * Storage of chats and of each user's list of chats. Every method that changes
 * membership changes the chat row and the users' rows in one transaction, so the two
 * never disagree. Conditions (membership, creator, size) are checked by the store,
 * not read-then-written.
 */
export interface ChatsRepository {
  /** Creates the chat and adds it to every member's list; returns false when the id already exists. */
  create(chat: Chat): Promise<boolean>;
  get(chatId: string): Promise<Chat | undefined>;
  getMany(chatIds: readonly string[]): Promise<Chat[]>;
  chatIdsOf(userId: string): Promise<string[]>;
  /** Adds a member when `byUserId` created the group, the user is not in it and it has room; false otherwise. */
  addMember(chatId: string, member: { userId: string; username: string }, byUserId: string, maxMembers: number, now: number): Promise<Chat | undefined>;
  /** Removes a member (by the creator, or the member leaving); undefined when the condition fails. */
  removeMember(chatId: string, userId: string, byUserId: string, now: number): Promise<Chat | undefined>;
  /**
   * Allocates the next seq and records the preview in one conditional update that
   * also proves the sender is a member; the sender's own read position moves with it.
   * Undefined when the sender is not a member (or the chat does not exist).
   */
  allocateSeq(chatId: string, senderId: string, preview: string, now: number): Promise<number | undefined>;
  /** Moves the member's read position forward only; 'not_member' or 'not_forward' when it cannot. */
  markRead(chatId: string, userId: string, seq: number): Promise<'ok' | 'not_member' | 'not_forward'>;
}

/** One chat per pair: the id depends only on the two user ids, whatever their order. */
export function directChatId(userA: string, userB: string): string {
  const [first, second] = [userA, userB].sort();
  return `d-${createHash('sha256').update(`${first}\n${second}`).digest('hex').slice(0, 40)}`;
}

export function newGroupChatId(): string {
  return `g-${randomUUID().replace(/-/g, '')}`;
}

export function isMember(chat: Chat, userId: string): boolean {
  return Object.hasOwn(chat.members, userId);
}

const PREVIEW_LENGTH = 120;

export function previewOf(message: { text?: string | undefined; fileName?: string | undefined }): string {
  if (message.fileName !== undefined) return `📎 ${message.fileName}`.slice(0, PREVIEW_LENGTH);
  const text = (message.text ?? '').replace(/\s+/g, ' ').trim();
  return text.length > PREVIEW_LENGTH ? `${text.slice(0, PREVIEW_LENGTH - 1)}…` : text;
}

/** The chat as one member sees it: a direct chat is titled after the other person. */
export function summaryFor(chat: Chat, viewerId: string): ChatSummary {
  const members: Member[] = Object.entries(chat.members)
    .map(([userId, username]) => ({ userId, username }))
    .sort((a, b) => a.username.localeCompare(b.username));
  const readSeq = Math.min(chat.readSeq[viewerId] ?? 0, chat.lastSeq);
  const title =
    chat.kind === 'direct' ? (members.find((m) => m.userId !== viewerId)?.username ?? chat.title) : chat.title;
  return {
    chatId: chat.chatId,
    kind: chat.kind,
    title,
    createdBy: chat.createdBy,
    members,
    lastSeq: chat.lastSeq,
    readSeq,
    unread: Math.max(0, chat.lastSeq - readSeq),
    ...(chat.lastMessage ? { lastMessage: chat.lastMessage } : {}),
    readPositions: { ...chat.readSeq },
    updatedAt: chat.updatedAt,
  };
}

/** Latest activity first. */
export function byLatestActivity(a: ChatSummary, b: ChatSummary): number {
  return b.updatedAt - a.updatedAt || a.chatId.localeCompare(b.chatId);
}
