/** The rules of chats as pure functions: ids, membership, how a member sees a chat. */
import { createHash, randomUUID } from 'node:crypto';
import type { ChatKind, ChatSummary, LastMessage, Member } from '../../model/index.js';

/** A chat as stored: the members' names and read positions in one record. */
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
  lastMessage?: LastMessage | undefined;
  updatedAt: number;
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

/** The chat as one member sees it: a direct chat is titled after the other person. */
export function summaryFor(chat: Chat, viewerId: string): ChatSummary {
  const members: Member[] = Object.entries(chat.members)
    .map(([userId, username]) => ({ userId, username }))
    .sort((a, b) => a.username.localeCompare(b.username));
  const readSeq = Math.min(chat.readSeq[viewerId] ?? 0, chat.lastSeq);
  const title = chat.kind === 'direct' ? (members.find((m) => m.userId !== viewerId)?.username ?? chat.title) : chat.title;
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
