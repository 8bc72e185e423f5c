/**
 * The `safeInteger` schema keyword for Fastify's validator (Ajv).
 *
 * Ajv coerces a query value such as `1e400` to Infinity and then skips
 * `minimum`/`maximum` for it (they apply to finite numbers only), so a bound alone
 * lets Infinity through to the services. This keyword runs after coercion on every
 * value and accepts only integers that JavaScript holds exactly. Field schemas set
 * it through `SafeInteger` in `../schemas.ts`; TypeBox's own checks (WebSocket
 * frames) ignore the keyword and refuse non-finite numbers by themselves.
 */

import type { FastifyServerOptions } from 'fastify';

/** Fastify's type for an Ajv plugin (Ajv itself is Fastify's dependency, not ours). */
type AjvPlugin = Extract<NonNullable<NonNullable<FastifyServerOptions['ajv']>['plugins']>[number], (...args: never[]) => unknown>;

const LARGEST = Number.MAX_SAFE_INTEGER;

interface KeywordValidator {
  (enabled: boolean, value: unknown): boolean;
  errors?: { keyword: string; message: string; params: Record<string, unknown> }[];
}

const validate: KeywordValidator = (enabled, value) => {
  if (!enabled || typeof value !== 'number' || Number.isSafeInteger(value)) return true;
  validate.errors = [{ keyword: 'safeInteger', message: `must be a whole number from 0 to ${LARGEST}`, params: {} }];
  return false;
};

/** An Ajv plugin (`Fastify({ ajv: { plugins: [safeIntegerKeyword] } })`). */
export const safeIntegerKeyword: AjvPlugin = (ajv: Parameters<AjvPlugin>[0]) => {
  ajv.addKeyword({ keyword: 'safeInteger', schemaType: 'boolean', errors: true, validate });
  return ajv;
};
