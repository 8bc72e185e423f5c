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

/** Parses and validates one client frame; a failure says what is wrong and echoes the frame's id. */
export function decodeClientFrame(raw: string): DecodeResult {
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
      message: `Unknown frame type ${JSON.stringify(type ?? null).slice(0, 40)}; expected one of ${Object.keys(checkers).join(', ')}`,
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
