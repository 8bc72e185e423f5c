/**
 * npm run bench:compare -- [--clients 2000] [--room-size 100] [--rate 50] [--duration 5] [--repeats 2] [--budget 300]
 *
 * huddle against a small honest Socket.IO 4 + @socket.io/redis-adapter server
 * (socketio-server.ts), in the same run, on the same Redis: two instances of each,
 * the same number of clients over them, rooms of the same size whose members alternate
 * over the two instances, 64-byte messages at the same rates. Rates step up (doubling
 * from --rate); at each rate huddle and Socket.IO take turns (huddle, Socket.IO,
 * huddle, Socket.IO ...) --repeats times. A server stops stepping once its median p99
 * passes 50 ms or it loses or refuses anything; the run stops when both have, or when
 * the next rate would pass --budget seconds.
 *
 * Per step: deliveries per second, send→delivery p50/p99 (to members other than the
 * sender), losses, instance CPU per delivery (user + system time of the two instance
 * processes, from /proc), the load generator's CPU. At the end: each server's highest
 * rate with p99 ≤ 50 ms, and huddle/Socket.IO ratios. Socket.IO persists nothing;
 * huddle stores every message in DynamoDB (Local here) before acking or delivering it.
 *
 * Clients are equally light for both: plain `ws` sockets, JSON.parse per frame; the
 * Socket.IO ones speak its wire protocol directly (socketio-clients.ts). huddle's users
 * are written into the tables as the load test's `--prepare tables` does.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDynamoClient } from '../../src/adapters/dynamodb/client.js';
import { freePort } from '../../test/helpers/free-port.js';
import { numberOption, parseOptions } from '../load/cli.js';
import { connectAll, disconnectAll, RunTally, type ServerFrame } from '../load/load-clients.js';
import { layoutUsers, prepareUsers, roomsOf, type LoadUser, type Room } from '../load/prepare-users.js';
import { cpuSecondsIfAlive, residentMiB } from '../load/proc-stats.js';
import type { Target } from '../load/load-options.js';
import { serverNodeVersion } from '../load/processes.js';
import { startBenchStack } from './bench-stack.js';
import { connectSocketIoClients, sendOverSocketIo, startSocketIoProcess } from './socketio-clients.js';

const usage = `usage: npm run bench:compare -- [options]

  --clients N     clients in all, half on each instance of each server (2000; 20 to 10000)
  --room-size S   members per room (100; 2 to 200, the instances' GROUP_MAX_MEMBERS)
  --rate R        first rate, messages per second over all rooms; each next step doubles it (50)
  --duration D    seconds of sending per step (5; 2 to 60)
  --repeats K     turns of each server at each rate (2; 1 to 5)
  --budget S      the run stops stepping when the next rate would end past this many seconds (300)`;

const values = parseOptions(
  process.argv.slice(2),
  {
    clients: { type: 'string' },
    'room-size': { type: 'string' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    repeats: { type: 'string' },
    budget: { type: 'string' },
  },
  usage,
);
const clients = Math.floor(numberOption('clients', values.clients, { default: 2000, min: 20, max: 10_000 }));
const settings = {
  clients,
  roomSize: Math.floor(numberOption('room-size', values['room-size'], { default: 100, min: 2, max: Math.min(200, clients) })),
  startRate: numberOption('rate', values.rate, { default: 50, min: 1, max: 20_000 }),
  durationSeconds: numberOption('duration', values.duration, { default: 5, min: 2, max: 60 }),
  repeats: Math.floor(numberOption('repeats', values.repeats, { default: 2, min: 1, max: 5 })),
  budgetSeconds: numberOption('budget', values.budget, { default: 300, min: 30, max: 3600 }),
  messageBytes: 64,
  p99TargetMs: 50,
};
/** After a step's last send: the longest wait for its acks and deliveries. */
const SETTLE_MS = 5000;
const WARM_UP_SECONDS = 2;
const PERSISTENCE_NOTE = 'Socket.IO persists nothing; huddle stores every message in DynamoDB (Local here) before acking';

const log = (line = '') => process.stdout.write(`${line}\n`);
const round = (n: number, digits = 1) => (Number.isFinite(n) ? +n.toFixed(digits) : n);

/** Routes what clients receive to the current step's tally, so that each step is counted on its own. */
class SteppedTally extends RunTally {
  step = new RunTally();
  override record(user: LoadUser, frame: ServerFrame, now: number): void {
    this.step.record(user, frame, now);
  }
}

interface Side {
  name: 'huddle' | 'socket.io';
  users: LoadUser[];
  rooms: Room[];
  tally: SteppedTally;
  pids: number[];
  send(user: LoadUser, room: Room, clientMsgId: string, text: string): void;
  /** Still stepping: its last rate met the target. */
  active: boolean;
  steps: StepResult[];
}

interface StepResult {
  rate: number;
  offeredPerSecond: number;
  deliveriesPerSecond: number;
  p50: number;
  p99: number;
  lost: number;
  refusedOrUnanswered: number;
  cpuMicrosPerDelivery: number;
  instanceCorePercent: number;
  generatorCorePercent: number;
  met: boolean;
}

const toTarget = (baseUrl: string): Target => {
  const url = new URL(baseUrl);
  return { baseUrl, wsUrl: `ws://${url.host}/ws`, local: true, port: Number(url.port) };
};

async function main(): Promise<void> {
  const runStarted = performance.now();
  log(`bench:compare ${JSON.stringify(settings)}`);
  log(PERSISTENCE_NOTE);
  const stack = await startBenchStack();
  const stops: (() => Promise<void>)[] = [];
  try {
    const huddle = await stack.startInstances(2, {
      FREE_MESSAGES_PER_DAY: '100000000',
      PREMIUM_MESSAGES_PER_DAY: '100000000',
      HTTP_RATE_LIMIT_PER_MINUTE: '1000000',
      GROUP_MAX_MEMBERS: '200',
    });
    const key = `cmp${randomBytes(3).toString('hex')}`;
    const socketIo = [];
    for (let i = 0; i < 2; i++) {
      const server = await startSocketIoProcess({ port: await freePort(), redisUrl: stack.redisUrl, key });
      stops.push(() => server.stop());
      socketIo.push(server);
    }
    log(`huddle:    ${huddle.map((i) => `${i.baseUrl} (pid ${i.pid})`).join(', ')}`);
    log(`socket.io: ${socketIo.map((s) => `${s.baseUrl} (pid ${s.child.pid})`).join(', ')}`);
    log(`redis:     ${stack.redisUrl} (shared by both)`);

    const tag = Date.now().toString(36);
    const db = createDynamoClient({ region: 'us-east-1', endpoint: stack.env.DYNAMODB_ENDPOINT });
    const preparedStarted = performance.now();
    const prepared = await prepareUsers(
      {
        targets: huddle.map((i) => toTarget(i.baseUrl)),
        connections: settings.clients,
        members: settings.roomSize,
        signInConcurrency: 16,
        tag,
        tables: { client: db, tablePrefix: stack.env.TABLE_PREFIX! },
      },
      () => {},
    ).finally(() => db.destroy());
    log(
      `huddle users: ${prepared.users.length} written into the tables in ${round(prepared.signInSeconds, 2)} s, ` +
        `${prepared.rooms.length} rooms created in ${round(prepared.roomSeconds)} s (${round((performance.now() - preparedStarted) / 1000)} s in all)`,
    );

    const huddleSide: Side = {
      name: 'huddle',
      users: prepared.users,
      rooms: prepared.rooms,
      tally: new SteppedTally(),
      pids: huddle.map((i) => i.pid),
      send: (user, room, id, text) => user.socket!.send(JSON.stringify({ type: 'send', id, chatId: room.chatId, clientMsgId: id, text })),
      active: true,
      steps: [],
    };
    const socketIoSide: Side = {
      name: 'socket.io',
      ...socketIoUsers(socketIo.map((s) => toTarget(s.baseUrl))),
      tally: new SteppedTally(),
      pids: socketIo.map((s) => s.child.pid!),
      send: (user, _room, id, text) => sendOverSocketIo(user, id, text),
      active: true,
      steps: [],
    };
    const sides = [huddleSide, socketIoSide];
    stops.push(async () => sides.forEach((side) => disconnectAll(side.users)));

    const rssIdle: Record<string, number[]> = {};
    for (const side of sides) {
      const started = performance.now();
      if (side === huddleSide) await connectAll(side.users, 0, side.tally);
      else await connectSocketIoClients(side.users, side.tally);
      if (side.tally.failed > 0)
        throw new Error(`${side.name}: ${side.tally.failed} clients failed to connect: ${JSON.stringify(side.tally.connectFailures)}`);
      await sleep(1000);
      rssIdle[side.name] = await Promise.all(side.pids.map((pid) => residentMiB(pid)));
      log(
        `${side.name}: ${side.tally.open} clients connected in ${round((performance.now() - started) / 1000)} s; ` +
          `instance RSS ${rssIdle[side.name]!.map((r) => round(r)).join(' / ')} MiB`,
      );
    }

    log(`warm-up: ${WARM_UP_SECONDS} s at ${settings.startRate} msg/s each (not counted)`);
    for (const side of sides) await runStep(side, settings.startRate, WARM_UP_SECONDS);

    log();
    log(
      'rate msg/s | server    | deliveries/s | send→delivery p50 / p99 ms | lost | refused+unanswered | instance CPU µs/delivery | instances % of a core | generator % of a core',
    );
    const stepSeconds = settings.durationSeconds + 3;
    for (let rate = settings.startRate; sides.some((s) => s.active); rate *= 2) {
      const active = sides.filter((s) => s.active);
      const elapsed = (performance.now() - runStarted) / 1000;
      if (elapsed + active.length * settings.repeats * stepSeconds > settings.budgetSeconds) {
        log(`(stopping: the step at ${rate} msg/s would end past the ${settings.budgetSeconds} s budget)`);
        break;
      }
      for (let repeat = 0; repeat < settings.repeats; repeat++) {
        for (const side of active) {
          const step = await runStep(side, rate, settings.durationSeconds);
          side.steps.push(step);
          log(
            `${String(rate).padStart(10)} | ${side.name.padEnd(9)} | ${String(step.deliveriesPerSecond).padStart(12)} | ` +
              `${`${step.p50} / ${step.p99}`.padStart(26)} | ${String(step.lost).padStart(4)} | ${String(step.refusedOrUnanswered).padStart(18)} | ` +
              `${String(step.cpuMicrosPerDelivery).padStart(24)} | ${String(step.instanceCorePercent).padStart(21)} | ${step.generatorCorePercent}`,
          );
        }
      }
      for (const side of active) side.active = median(side.steps.filter((s) => s.rate === rate).map((s) => (s.met ? 1 : 0))) >= 0.5;
    }

    const rssAfter = Object.fromEntries(
      await Promise.all(sides.map(async (side) => [side.name, await Promise.all(side.pids.map((pid) => residentMiB(pid)))] as const)),
    );
    summarize(huddleSide, socketIoSide, rssIdle, rssAfter, (performance.now() - runStarted) / 1000);
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await stack.close();
  }
}

/** Socket.IO's users laid out as huddle's: consecutive users share a room, members alternate over the instances. */
function socketIoUsers(targets: Target[]): { users: LoadUser[]; rooms: Room[] } {
  const users = layoutUsers(targets, settings.clients, settings.roomSize, (index) => `s${index}`);
  for (const user of users) user.chatId = `room${user.room}`;
  return { users, rooms: roomsOf(users) };
}

/** Sends at `rate` for `seconds` (senders slot-major: consecutive messages from different rooms and instances), then settles. */
async function runStep(side: Side, rate: number, seconds: number): Promise<StepResult> {
  const tally = (side.tally.step = new RunTally());
  const senders = side.users.filter((u) => u.open).sort((a, b) => a.slot - b.slot || a.room - b.room);
  const cpuBefore = await instanceCpu(side);
  const generatorBefore = process.cpuUsage();
  const started = performance.now();
  const total = Math.max(1, Math.round(rate * seconds));
  const stepId = randomBytes(3).toString('hex');
  let n = 0;
  while (n < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    for (; n < due; n++) {
      const sender = senders[n % senders.length]!;
      const id = `${stepId}-${n}`;
      const room = side.rooms[sender.room]!;
      tally.expect(sender, room, id);
      side.send(sender, room, id, `${id} `.padEnd(settings.messageBytes, 'x'));
    }
    await sleep(Math.max(1, started + (n / rate) * 1000 - performance.now()));
  }
  const sendSeconds = (performance.now() - started) / 1000;
  const settleDeadline = performance.now() + SETTLE_MS;
  while (performance.now() < settleDeadline) {
    const { deliveries, unanswered } = tally.outstanding();
    if (deliveries === 0 && unanswered === 0) break;
    await sleep(50);
  }
  const wall = (performance.now() - started) / 1000;
  const cpu = (await instanceCpu(side)) - cpuBefore;
  const generator = process.cpuUsage(generatorBefore);
  const { deliveries: lost, unanswered } = tally.outstanding();
  const refused = Object.values(tally.refusals).reduce((a, b) => a + b, 0);
  const window = ((tally.lastDeliveredAt ?? performance.now()) - (tally.firstSentAt ?? started)) / 1000;
  const p99 = round(tally.deliveryLatency.percentile(99));
  const offered = round(tally.sent.size / sendSeconds);
  await sleep(1000);
  return {
    rate,
    offeredPerSecond: offered,
    deliveriesPerSecond: Math.round(tally.delivered / Math.max(window, 0.001)),
    p50: round(tally.deliveryLatency.percentile(50)),
    p99,
    lost,
    refusedOrUnanswered: refused + unanswered,
    cpuMicrosPerDelivery: Math.round((cpu * 1e6) / Math.max(1, tally.delivered)),
    instanceCorePercent: round((cpu / wall) * 100),
    generatorCorePercent: round(((generator.user + generator.system) / 1e6 / wall) * 100),
    // A step meets the target only if the generator offered (nearly) the whole rate and nothing went missing.
    met: p99 <= settings.p99TargetMs && lost === 0 && refused + unanswered === 0 && offered >= rate * 0.95,
  };
}

async function instanceCpu(side: Side): Promise<number> {
  const each = await Promise.all(side.pids.map((pid) => cpuSecondsIfAlive(pid)));
  return each.reduce<number>((sum, s) => sum + (s ?? NaN), 0);
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Per rate, the median over the repeats of each figure. */
function byRate(side: Side): Map<number, { deliveriesPerSecond: number; p99: number; cpu: number; met: boolean }> {
  const rates = [...new Set(side.steps.map((s) => s.rate))];
  return new Map(
    rates.map((rate) => {
      const steps = side.steps.filter((s) => s.rate === rate);
      return [
        rate,
        {
          deliveriesPerSecond: round(median(steps.map((s) => s.deliveriesPerSecond))),
          p99: round(median(steps.map((s) => s.p99))),
          cpu: round(median(steps.map((s) => s.cpuMicrosPerDelivery))),
          met: median(steps.map((s) => (s.met ? 1 : 0))) >= 0.5,
        },
      ];
    }),
  );
}

function summarize(
  huddle: Side,
  socketIo: Side,
  rssIdle: Record<string, number[]>,
  rssAfter: Record<string, number[]>,
  seconds: number,
): void {
  const h = byRate(huddle);
  const s = byRate(socketIo);
  const best = (m: ReturnType<typeof byRate>) => {
    const met = [...m].filter(([, v]) => v.met);
    return met.length === 0 ? undefined : met.reduce((a, b) => (b[1].deliveriesPerSecond > a[1].deliveriesPerSecond ? b : a));
  };
  const hBest = best(h);
  const sBest = best(s);
  const ratio = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && b > 0 ? `${round(a / b, 2)}x` : 'n/a';
  const sum = (xs: number[] | undefined) => (xs ?? []).reduce((a, b) => a + b, 0);

  log();
  log(
    `summary (${round(seconds)} s; ${settings.clients} clients, rooms of ${settings.roomSize}, 2 instances each on node ${serverNodeVersion()}, ${settings.messageBytes}-byte messages)`,
  );
  log(`  ${PERSISTENCE_NOTE}.`);
  log('  measured                                   | huddle | socket.io | huddle/socket.io');
  const describeBest = (b: typeof hBest) => (b ? `${b[1].deliveriesPerSecond} (at ${b[0]} msg/s, p99 ${b[1].p99} ms)` : 'none met it');
  log(
    `  deliveries/s at p99 ≤ ${settings.p99TargetMs} ms, nothing lost     | ${describeBest(hBest)} | ${describeBest(sBest)} | ${ratio(hBest?.[1].deliveriesPerSecond, sBest?.[1].deliveriesPerSecond)}`,
  );
  for (const [rate, hv] of h) {
    const sv = s.get(rate);
    if (!sv) continue;
    log(`  instance CPU µs per delivery at ${String(rate).padEnd(5)} msg/s | ${hv.cpu} | ${sv.cpu} | ${ratio(hv.cpu, sv.cpu)}`);
  }
  log(
    `  instance RSS with ${settings.clients} idle clients (sum)  | ${round(sum(rssIdle.huddle))} MiB | ${round(sum(rssIdle['socket.io']))} MiB | ${ratio(sum(rssIdle.huddle), sum(rssIdle['socket.io']))}`,
  );
  log(
    `  instance RSS after the run (sum)            | ${round(sum(rssAfter.huddle))} MiB | ${round(sum(rssAfter['socket.io']))} MiB | ${ratio(sum(rssAfter.huddle), sum(rssAfter['socket.io']))}`,
  );
  log(
    `json ${JSON.stringify({ settings, huddle: huddle.steps, socketIo: socketIo.steps, rssIdleMiB: rssIdle, rssAfterMiB: rssAfter, note: PERSISTENCE_NOTE })}`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
