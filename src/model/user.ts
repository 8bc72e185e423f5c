/** People and their tier. */
import { Type, type Static } from '@sinclair/typebox';

export const Tier = Type.Union([Type.Literal('free'), Type.Literal('premium')]);
export type Tier = Static<typeof Tier>;

export interface User {
  userId: string;
  username: string;
  email?: string | undefined;
  tier: Tier;
  createdAt: number;
}

/** What a person's client may know of them. */
export const PublicUser = Type.Object({
  userId: Type.String(),
  username: Type.String(),
  email: Type.Optional(Type.String()),
  tier: Tier,
});
export type PublicUser = Static<typeof PublicUser>;

/** Someone acting through a signed-in client. */
export interface Actor {
  userId: string;
  username: string;
}
