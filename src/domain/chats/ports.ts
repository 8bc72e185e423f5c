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
   * Records what was stored in a chat (the latest seq, its preview and sender, and
   * the senders' own read positions), moving the row forward only: an older
   * activity than the row holds leaves the latest message alone.
   */
  recordActivity(chatId: string, activity: ChatActivity): Promise<void>;
  /** Moves the member's read position forward only; 'not_member' or 'not_forward' when it cannot. The caller bounds `seq`. */
  markRead(chatId: string, userId: string, seq: number): Promise<'ok' | 'not_member' | 'not_forward'>;
}

/** What a chat row learns from stored messages. */
export interface ChatActivity {
  lastSeq: number;
  preview: string;
  senderId: string;
  /** Epoch ms of the latest message. */
  at: number;
  /** Read positions to move forward: each sender has read their own messages. */
  reads: Record<string, number>;
}
