import type { User } from '../../model/index.js';
import type { QuotaUsage } from '../quotas/quota-policy.js';

/** What sign-in learns about a person from the identity provider's tokens. */
export interface SignInProfile {
  userId: string;
  username: string;
  email?: string | undefined;
  /** Set when the provider's groups say so; undefined leaves the stored tier alone. */
  premium?: boolean | undefined;
}

/**
 * Storage of users. Implementation: DynamoDB (`adapters/dynamodb/users-repository.ts`).
 * Usernames are unique per identity provider; lookups by username are eventually
 * consistent (a GSI), lookups by id are strongly consistent.
 */
export interface UsersRepository {
  /** Creates the user on first sign-in, refreshes username/email (and tier when given) after. */
  upsertOnSignIn(profile: SignInProfile, now: number): Promise<User>;
  getById(userId: string): Promise<User | undefined>;
  getByUsername(username: string): Promise<User | undefined>;
  /** Everything a new connection needs of its user, in one read of the row: who, which chats, what usage. */
  getAccount(userId: string): Promise<Account | undefined>;
}

export interface Account {
  user: User;
  chatIds: string[];
  usage: QuotaUsage;
}
