/** The WebSocketUsers row as the repositories read it: the person, and their usage counters. */
import { tierOf, type QuotaUsage } from '../../domain/quotas/quota-policy.js';
import type { User } from '../../model/index.js';

type UserItem = {
  user_id: string;
  username: string;
  email?: string | null;
  is_premium?: boolean;
  created_at: number;
};

export function toUser(item: Record<string, unknown>): User {
  const u = item as UserItem;
  return {
    userId: u.user_id,
    username: u.username,
    email: u.email ?? undefined,
    tier: u.is_premium ? 'premium' : 'free',
    createdAt: u.created_at,
  };
}

interface UsageItem {
  user_id: string;
  username?: string;
  is_premium?: boolean;
  quota_day?: string;
  messages_today?: number;
  storage_bytes?: number;
}

export function toUsage(item: Record<string, unknown>): QuotaUsage {
  const u = item as unknown as UsageItem;
  return {
    userId: u.user_id,
    username: u.username ?? '',
    tier: tierOf(u.is_premium),
    quotaDay: u.quota_day,
    messagesToday: u.messages_today ?? 0,
    storageBytes: u.storage_bytes ?? 0,
  };
}
