import type { FastifyInstance } from 'fastify';
import type { AuthenticatedUser } from '../../domain/sessions/session-service.js';

/** What `GET /api/me` answers. More about the user (e.g. quota use) goes next to `user`. */
export interface MeBody {
  user: {
    userId: string;
    username: string;
    email?: string | undefined;
    tier: AuthenticatedUser['tier'];
  };
  [more: string]: unknown;
}

/** Builds the `GET /api/me` body: the one place to add fields about the signed-in user. */
export async function buildMeBody(app: FastifyInstance, user: AuthenticatedUser): Promise<MeBody> {
  // Usage and tier are read fresh: the tier may have changed since sign-in.
  const quota = await app.services.quotas.summary(user.userId);
  return {
    user: { userId: user.userId, username: user.username, email: user.email, tier: quota.tier },
    quota,
  };
}
