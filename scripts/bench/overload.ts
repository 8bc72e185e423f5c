/**
 * npm run bench:overload: two instances driven at several times the rate they sustain,
 * then the load dropped. Nothing may be lost in silence: every stored message must
 * reach every member of its room, live or through `sync`, and what could not go live
 * must show in the instances' own counters.
 *
 * Two instances (separate processes) share a private Redis and DynamoDB Local. Users
 * sign in and form rooms whose members alternate between the instances; then
 *
 *   1. overload: BENCH_FACTOR x BENCH_SUSTAINABLE_RATE messages/s for BENCH_SECONDS;
 *   2. calm: BENCH_CALM_RATE messages/s for BENCH_CALM_SECONDS, to show the instances
 *      recovered (acks and live deliveries come back to normal);
 *   3. settle, then every member's client does what the page does: reconnect if its
 *      socket was closed, and `sync` each room from the last seq it holds without a gap.
 *
 * It prints stored messages, live deliveries, deliveries recovered by sync, deliveries
 * still missing after sync (must be 0), refusals by code, whether each instance stayed
 * up and ready, and the instances' "could not go live" counters (frames dropped for
 * slow sockets, bus subscribers lost, sockets told to resync). Figures, not assertions.
 *
 * Knobs (environment): BENCH_CLIENTS (200), BENCH_ROOM (10), BENCH_SUSTAINABLE_RATE (100
 * msg/s, from bench:write-path on a quiet machine), BENCH_FACTOR (4), BENCH_SECONDS (15),
 * BENCH_CALM_RATE (10), BENCH_CALM_SECONDS (5), BENCH_PUBSUB_LIMIT (unset: Redis's default
 * `pubsub 32mb 8mb 60`; e.g. "pubsub 64kb 32kb 1" to make Redis close lagging subscribers).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type WebSocket from 'ws';
import { textOf } from '../../test/helpers/ws-client.js';
import { freePort } from '../../test/helpers/free-port.js';
import { seriesValue } from '../../test/helpers/metrics-text.js';
import { startBenchStack, type BenchInstance } from './bench-stack.js';
import { prepareUsers, type LoadUser, type Room } from '../load/prepare-users.js';
import { connectAll, disconnectAll, RunTally } from '../load/load-clients.js';
import type { Target } from '../load/load-options.js';
import { percentile } from '../load/percentile.js';

const settings = {
  clients: Number(process.env.BENCH_CLIENTS ?? 200),
  room: Number(process.env.BENCH_ROOM ?? 10),
  sustainableRate: Number(process.env.BENCH_SUSTAINABLE_RATE ?? 100),
  factor: Number(process.env.BENCH_FACTOR ?? 4),
  seconds: Number(process.env.BENCH_SECONDS ?? 15),
  calmRate: Number(process.env.BENCH_CALM_RATE ?? 10),
  calmSeconds: Number(process.env.BENCH_CALM_SECONDS ?? 5),
  pubsubLimit: process.env.BENCH_PUBSUB_LIMIT,
};
/** After the last send, how long late acks and deliveries may take. */
const SETTLE_MS = 15_000;
const SYNC_WAIT_MS = 10_000;
const SIGN_IN_CONCURRENCY = 16;

const log = (line: string) => process.stdout.write(`${line}\n`);
const round = (n: number, digits = 1) => +n.toFixed(digits);

interface Watched extends BenchInstance {
  metricsUrl: string;
}

async function main() {
  const started = performance.now();
  log(`overload benchmark: ${JSON.stringify(settings)}`);
  const stack = await startBenchStack();
  try {
    if (settings.pubsubLimit) {
      const admin = new Redis(stack.redisUrl);
      try {
        await admin.config('SET', 'client-output-buffer-limit', settings.pubsubLimit);
      } finally {
        admin.disconnect();
      }
    }
    const instances: Watched[] = [];
    for (let i = 0; i < 2; i++) {
      const metricsPort = await freePort();
      const [instance] = await stack.startInstances(1, {
        METRICS_PORT: String(metricsPort),
        FREE_MESSAGES_PER_DAY: '10000000',
        PREMIUM_MESSAGES_PER_DAY: '10000000',
        // Every simulated user signs in from this one address: the per-address budget would refuse them.
        HTTP_RATE_LIMIT_PER_MINUTE: '1000000',
      });
      instances.push({ ...instance!, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` });
    }
    await run(instances);
  } finally {
    await stack.close();
    log(`the run took ${round((performance.now() - started) / 1000)} s`);
  }
}

/** Sends at `rate` messages/s for `seconds`, round-robin over the open senders. */
async function sendAt(tally: RunTally, users: LoadUser[], rooms: Room[], rate: number, seconds: number, label: string) {
  const senders = users.filter((u) => u.open).sort((a, b) => a.slot - b.slot || a.room - b.room);
  const total = Math.round(rate * seconds);
  const started = performance.now();
  let turn = 0;
  for (let n = 0; n < total; n++) {
    const wait = started + (n * 1000) / rate - performance.now();
    if (wait > 1) await sleep(wait);
    let sender: LoadUser | undefined;
    for (let tries = 0; tries < senders.length && !sender?.open; tries++) sender = senders[turn++ % senders.length];
    if (!sender?.open) break;
    const clientMsgId = `${label}-${n}`;
    tally.send(sender, rooms[sender.room]!, clientMsgId, `${clientMsgId} overload`);
  }
  return { sent: total, seconds: (performance.now() - started) / 1000 };
}

/** Sends one phase through the run's tally and reads its figures from the phase's own entries once it has settled. */
async function phase(tally: RunTally, users: LoadUser[], rooms: Room[], rate: number, seconds: number, label: string) {
  const { sent, seconds: took } = await sendAt(tally, users, rooms, rate, seconds, label);
  const entries = [...tally.sent].filter(([id]) => id.startsWith(`${label}-`)).map(([, entry]) => entry);
  const settled = () => entries.every((e) => e.refused || (e.ackedAt !== undefined && !e.slots.includes(0)));
  const deadline = performance.now() + SETTLE_MS;
  while (!settled() && performance.now() < deadline) await sleep(100);
  const acked = entries.filter((e) => e.ackedAt !== undefined);
  const ackMs = acked.map((e) => e.ackedAt! - e.sentAt).sort((a, b) => a - b);
  const refused: Record<string, number> = {};
  for (const e of entries) if (e.refused) refused[e.refused] = (refused[e.refused] ?? 0) + 1;
  let owedLive = 0;
  let deliveredLive = 0;
  for (const e of acked) {
    for (const state of e.slots) {
      if (state === 2) continue; // that member had no open socket when it was sent
      owedLive += 1;
      if (state === 1) deliveredLive += 1;
    }
  }
  return {
    sent,
    offeredPerSecond: round(sent / took),
    acked: acked.length,
    refused,
    unanswered: entries.filter((e) => e.ackedAt === undefined && !e.refused).length,
    ackMs: { p50: round(percentile(ackMs, 50)), p99: round(percentile(ackMs, 99)) },
    liveShare: round(deliveredLive / Math.max(1, owedLive), 4),
  };
}

async function run(instances: Watched[]) {
  const targets: Target[] = instances.map((i) => {
    const port = Number(new URL(i.baseUrl).port);
    return { baseUrl: i.baseUrl, wsUrl: i.wsUrl, local: true, port };
  });
  const tag = Date.now().toString(36);
  const { users, rooms } = await prepareUsers(
    { targets, connections: settings.clients, members: settings.room, signInConcurrency: SIGN_IN_CONCURRENCY, tag },
    () => {},
  );
  const tally = new RunTally();
  await connectAll(users, 0, tally);
  log(`${tally.open} of ${users.length} clients connected, ${rooms.length} rooms of ${settings.room}`);
  const countersBefore = await Promise.all(instances.map(counters));

  const overloadRate = settings.sustainableRate * settings.factor;
  const overload = await phase(tally, users, rooms, overloadRate, settings.seconds, `${tag}-o`);
  log(`overload ${overloadRate} msg/s: ${JSON.stringify(overload)}`);
  const calm = await phase(tally, users, rooms, settings.calmRate, settings.calmSeconds, `${tag}-c`);
  log(`calm ${settings.calmRate} msg/s: ${JSON.stringify(calm)}`);

  const afterLoad = await Promise.all(instances.map(health));
  const closedDuringRun = users.filter((u) => !u.open).length;
  const check = await syncEveryMember(users, rooms, tally);
  const countersAfter = await Promise.all(instances.map(counters));

  const couldNotGoLive = countersAfter.map((after, i) => difference(countersBefore[i]!, after));
  log(
    `stored ${check.stored} messages (${overload.acked} in overload, ${calm.acked} calm); refused ${JSON.stringify(mergeCounts(overload.refused, calm.refused))}`,
  );
  log(
    `deliveries: ${check.expected} owed to members; ${check.live} live, ${check.bySync} recovered by sync, ` +
      `${check.missing} missing after sync; ${check.duplicates} duplicates; ${closedDuringRun} sockets closed during the run, ${check.reconnected} reconnected to sync`,
  );
  log(`instances after the load: ${afterLoad.map((h, i) => `#${i + 1} healthz ${h.healthz}, readyz ${h.readyz}`).join('; ')}`);
  log(`counted as not live, per instance: ${couldNotGoLive.map((c) => JSON.stringify(c)).join(' / ')}`);
  log(
    `json ${JSON.stringify({ settings, overloadRate, overload, calm, delivery: check, closedDuringRun, instances: afterLoad, couldNotGoLive })}`,
  );
  disconnectAll(users);
}

/**
 * What the page does after the load: a socket that was closed reconnects; each member
 * then syncs its room from the last seq it holds without a gap. Counts every stored
 * message per member: live, by sync, or missing.
 */
async function syncEveryMember(users: LoadUser[], rooms: Room[], tally: RunTally) {
  const closed = users.filter((u) => !u.open);
  if (closed.length) await connectAll(closed, 0, new RunTally());
  const storedByRoom = new Map<Room, { clientMsgId: string; seq: number; slots: Uint8Array }[]>();
  for (const [clientMsgId, entry] of tally.sent) {
    if (entry.seq === undefined) continue;
    const list = storedByRoom.get(entry.room) ?? [];
    list.push({ clientMsgId, seq: entry.seq, slots: entry.slots });
    storedByRoom.set(entry.room, list);
  }
  let expected = 0;
  let live = 0;
  let bySync = 0;
  let missing = 0;
  let duplicates = 0;
  for (const room of rooms) {
    const stored = (storedByRoom.get(room) ?? []).sort((a, b) => a.seq - b.seq);
    if (stored.length === 0) continue;
    await Promise.all(
      room.members.map(async (member) => {
        expected += stored.length;
        const gotLive = new Set(stored.filter((m) => m.slots[member.slot] === 1).map((m) => m.seq));
        live += gotLive.size;
        const firstGap = stored.find((m) => !gotLive.has(m.seq));
        if (!firstGap) return;
        const synced = member.open ? await syncFrom(member, room.chatId, firstGap.seq - 1) : [];
        const seen = new Set<number>();
        for (const seq of synced) {
          if (seen.has(seq)) duplicates += 1;
          seen.add(seq);
        }
        for (const m of stored) {
          if (gotLive.has(m.seq)) continue;
          if (seen.has(m.seq)) bySync += 1;
          else missing += 1;
        }
      }),
    );
  }
  return {
    stored: [...storedByRoom.values()].reduce((n, l) => n + l.length, 0),
    expected,
    live,
    bySync,
    missing,
    duplicates,
    reconnected: closed.filter((u) => u.open).length,
  };
}

function syncFrom(member: LoadUser, chatId: string, lastSeq: number): Promise<number[]> {
  const socket = member.socket!;
  return new Promise((resolve) => {
    const id = `sync-${member.index}`;
    const timer = setTimeout(() => finish([]), SYNC_WAIT_MS);
    const onMessage = (data: WebSocket.RawData) => {
      const frame = JSON.parse(textOf(data)) as { type: string; id?: string; messages?: { seq: number }[] };
      if (frame.type === 'synced' && frame.id === id) finish(frame.messages!.map((m) => m.seq));
    };
    const finish = (seqs: number[]) => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(seqs);
    };
    socket.on('message', onMessage);
    socket.send(JSON.stringify({ type: 'sync', id, chats: [{ chatId, lastSeq }] }));
  });
}

const NOT_LIVE_SERIES = {
  slowSocketFramesSkipped: 'huddle_frames_dropped_total{reason="slow_socket"}',
  slowConsumersClosed: 'huddle_frames_dropped_total{reason="slow_consumer_closed"}',
  busSubscriberClosed: 'huddle_bus_subscriber_lost_total{cause="closed"}',
  busSubscriberStuck: 'huddle_bus_subscriber_lost_total{cause="stuck"}',
  resyncsSent: 'huddle_resyncs_sent_total{reason="bus_reconnected"}',
  rateLimitedFrames: 'huddle_rate_limited_total{where="socket"}',
} as const;

async function counters(instance: Watched): Promise<Record<keyof typeof NOT_LIVE_SERIES, number>> {
  const text = await (await fetch(instance.metricsUrl)).text();
  return Object.fromEntries(Object.entries(NOT_LIVE_SERIES).map(([key, series]) => [key, seriesValue(text, series) ?? 0])) as Record<
    keyof typeof NOT_LIVE_SERIES,
    number
  >;
}

function difference<T extends Record<string, number>>(before: T, after: T): T {
  return Object.fromEntries(Object.entries(after).map(([key, value]) => [key, value - (before[key] ?? 0)])) as T;
}

function mergeCounts(...all: Record<string, number>[]): Record<string, number> {
  const merged: Record<string, number> = {};
  for (const counts of all) for (const [key, n] of Object.entries(counts)) merged[key] = (merged[key] ?? 0) + n;
  return merged;
}

async function health(instance: Watched) {
  const status = async (path: string) => {
    try {
      return (await fetch(`${instance.baseUrl}${path}`, { signal: AbortSignal.timeout(5000) })).status;
    } catch {
      return 0;
    }
  };
  return { healthz: await status('/healthz'), readyz: await status('/readyz') };
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
