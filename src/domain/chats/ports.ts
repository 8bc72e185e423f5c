import type { Chat } from './chat-rules.js';

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
  addMember(
    chatId: string,
    member: { userId: string; username: string },
    byUserId: string,
    maxMembers: number,
    now: number,
  ): Promise<Chat | undefined>;
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
