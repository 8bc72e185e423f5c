import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { clientFrameSchemas, type ClientFrame, type ClientFrameType } from './protocol.js';

export type DecodeResult =
  | { ok: true; frame: ClientFrame }
  | { ok: false; code: 'bad_frame' | 'unknown_type' | 'invalid'; message: string; id?: string; frameType?: string };

const checkers = Object.fromEntries(
  Object.entries(clientFrameSchemas).map(([type, schema]) => [type, TypeCompiler.Compile(schema as TSchema)]),
) as Record<ClientFrameType, TypeCheck<TSchema>>;

const isFrameType = (type: unknown): type is ClientFrameType => typeof type === 'string' && Object.hasOwn(checkers, type);

/**
 * The deepest nesting any valid frame has is 3 (sync -> chats -> entry); a little
 * room above that still gets a precise schema error. Anything deeper is refused
 * before JSON.parse, so no later step (schema check, error message) ever walks a
 * value deep enough to overflow the stack.
 */
export const MAX_FRAME_DEPTH = 8;

/** Deepest `{`/`[` nesting in raw JSON text, counting only brackets outside strings; stops early past `limit`. */
export function jsonDepth(raw: string, limit = MAX_FRAME_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return deepest;
}

/** Names what a client put in `type` without serializing it (it may be huge or deeply nested). */
function describeType(type: unknown): string {
  if (typeof type === 'string') return JSON.stringify(type.slice(0, 40));
  if (type === null || type === undefined) return 'none';
  return `of kind ${Array.isArray(type) ? 'array' : typeof type}`;
}

/** Parses and validates one client frame; a failure says what is wrong and echoes the frame's id. */
export function decodeClientFrame(raw: string): DecodeResult {
  if (jsonDepth(raw) > MAX_FRAME_DEPTH) {
    return { ok: false, code: 'bad_frame', message: `A frame may nest at most ${MAX_FRAME_DEPTH} levels deep` };
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, code: 'bad_frame', message: 'A frame must be a JSON object' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'bad_frame', message: 'A frame must be a JSON object' };
  }
  const record = value as Record<string, unknown>;
  const id = typeof record.id === 'string' ? record.id.slice(0, 64) : undefined;
  const type = record.type;
  if (!isFrameType(type)) {
    return {
      ok: false,
      code: 'unknown_type',
      message: `Unknown frame type ${describeType(type)}; expected one of ${Object.keys(checkers).join(', ')}`,
      ...(id !== undefined ? { id } : {}),
    };
  }
  const checker = checkers[type];
  if (!checker.Check(value)) {
    const first = checker.Errors(value).First();
    const where = first?.path ? first.path.replace(/^\//, '').replace(/\//g, '.') : 'frame';
    return {
      ok: false,
      code: 'invalid',
      message: `Invalid ${type} frame: ${where}: ${first?.message ?? 'does not match the schema'}`,
      frameType: type,
      ...(id !== undefined ? { id } : {}),
    };
  }
  return { ok: true, frame: value as ClientFrame };
}
