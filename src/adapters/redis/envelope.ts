/**
 * The bytes a frame travels in between instances: `1|<nodeId>|<frame JSON>`.
 *
 * The frame is serialized once, by the publisher, and the JSON that reaches
 * sockets is that very string: the envelope is built around it by concatenation
 * and taken apart by slicing, never re-serialized. The leading version lets a
 * rolling deploy change the format: an instance drops (and logs) envelopes of a
 * version it does not know instead of misreading them.
 */
import { randomBytes } from 'node:crypto';
import type { BusFrame } from '../../domain/fanout/ports.js';

const VERSION = '1';
const SEPARATOR = '|';
const HEADER_START = VERSION + SEPARATOR;

/** A fresh id for one bus instance: hex, so it never contains the separator. */
export function newNodeId(): string {
  return randomBytes(8).toString('hex');
}

export function encodeEnvelope(nodeId: string, frameJson: string): string {
  return HEADER_START + nodeId + SEPARATOR + frameJson;
}

export type DecodedEnvelope = { ok: true; origin: string; json: string; frame: BusFrame } | { ok: false; reason: string };

export function decodeEnvelope(raw: string): DecodedEnvelope {
  if (!raw.startsWith(HEADER_START)) {
    const version = raw.slice(0, Math.max(0, raw.indexOf(SEPARATOR)));
    return { ok: false, reason: version ? `unknown envelope version "${version.slice(0, 16)}"` : 'not an envelope' };
  }
  const originEnd = raw.indexOf(SEPARATOR, HEADER_START.length);
  if (originEnd <= HEADER_START.length) return { ok: false, reason: 'envelope has no node id' };
  const origin = raw.slice(HEADER_START.length, originEnd);
  const json = raw.slice(originEnd + 1);
  let frame: unknown;
  try {
    frame = JSON.parse(json);
  } catch {
    return { ok: false, reason: 'frame is not JSON' };
  }
  if (!isFrameShaped(frame)) return { ok: false, reason: 'frame is not an object with a type' };
  return { ok: true, origin, json, frame };
}

/**
 * Only the shape every frame shares is checked: the publisher built the frame
 * from a typed `ServerFrame`, and a newer instance may send types this one does
 * not know yet, which sockets may still want.
 */
function isFrameShaped(value: unknown): value is BusFrame {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { type?: unknown }).type === 'string';
}
