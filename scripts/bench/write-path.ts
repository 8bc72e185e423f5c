/**
 * npm run bench:write-path: what a message and a connect cost on the write path.
 *
 * Two instances (separate processes) share Redis and DynamoDB Local; the instances
 * reach DynamoDB through a counting proxy (dynamo-counter.ts). Users sign in, form
 * rooms whose members sit on both instances, and then:
 *
 *   1. all clients connect at once (session cookie ready, until `hello`): the time,
 *      and DynamoDB requests per connect;
 *   2. a sweep of send rates, each held for a few seconds: send -> ack and send ->
 *      delivery (other instance) p50/p99, messages refused by code, deliveries lost,
 *      DynamoDB requests per message, and instance CPU per message.
 *
 * It ends with the highest rate whose delivery p99 stayed within 50 ms with nothing
 * lost. Everything shares this machine's cores (instances, Redis, DynamoDB Local,
 * this load generator): read the figures as ratios within one run.
 *
 * Knobs (environment): BENCH_CLIENTS (1000), BENCH_ROOM (10), BENCH_RATES
 * ("20,100,300,1000,2000" messages/s in total), BENCH_STEP_SECONDS (10),
 * BENCH_P99_TARGET_MS (50).
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { signIn } from '../../test/helpers/sign-in.js';
import { startBenchStack, type BenchInstance } from './bench-stack.js';
import { cpuSeconds, residentMiB } from '../load/proc-stats.js';
import { percentile } from '../load/percentile.js';
import { inParallel } from '../load/in-parallel.js';
import { countsBetween, meanAnswerMs, startDynamoCounter } from './dynamo-counter.js';

const settings = {
  clients: Number(process.env.BENCH_CLIENTS ?? 1000),
  room: Number(process.env.BENCH_ROOM ?? 10),
  rates: (process.env.BENCH_RATES ?? '20,100,300,1000,2000').split(',').map(Number),
  stepSeconds: Number(process.env.BENCH_STEP_SECONDS ?? 10),
  p99TargetMs: Number(process.env.BENCH_P99_TARGET_MS ?? 50),
};
/** After a step's last send, how long acks and deliveries may take before counting as lost. */
const SETTLE_MS = 10_000;
const SIGN_IN_CONCURRENCY = 16;

interface Member {
  index: number;
  username: string;
  cookie: string;
  instance: number;
  room: number;
  chatId?: string;
  socket?: WebSocket;
}

interface Pending {
  sentAt: number;
  senderInstance: number;
  ackedAt?: number;
  refused?: string;
  waitingFor: Set<number>;
}

const log = (line: string) => process.stdout.write(`${line}\n`);
const round = (n: number, digits = 1) => +n.toFixed(digits);

async function main() {
  log(`write-path benchmark: ${JSON.stringify(settings)}`);
  const stack = await startBenchStack();
  const counter = await startDynamoCounter(stack.env.DYNAMODB_ENDPOINT!);
  try {
    const instances = await stack.startInstances(2, {
      DYNAMODB_ENDPOINT: counter.endpoint,
      FREE_MESSAGES_PER_DAY: '10000000',
      PREMIUM_MESSAGES_PER_DAY: '10000000',
      // Every simulated user signs in from this one address: the per-address budget would refuse them.
      HTTP_RATE_LIMIT_PER_MINUTE: '1000000',
    });
    await run(instances, counter);
  } finally {
    await counter.close();
    await stack.close();
  }
}

async function run(instances: BenchInstance[], counter: Awaited<ReturnType<typeof startDynamoCounter>>) {
  const tag = Date.now().toString(36);
  const members: Member[] = Array.from({ length: settings.clients }, (_, index) => ({
    index,
    username: `w${tag}u${index}`,
    cookie: '',
    // Alternate instances within each room so most deliveries cross instances.
    instance: index % instances.length,
    room: Math.floor(index / settings.room),
  }));
  const signInStarted = performance.now();
  await inParallel(members, SIGN_IN_CONCURRENCY, async (m) => {
    m.cookie = (await signIn(instances[m.instance]!.baseUrl, m.username)).cookie;
  });
  log(`signed in ${members.length} users in ${round((performance.now() - signInStarted) / 1000)} s`);

  const rooms: Member[][] = [];
  for (const m of members) (rooms[m.room] ??= []).push(m);
  await inParallel(rooms, 8, async (room) => {
    const owner = room[0]!;
    const res = await fetch(`${instances[owner.instance]!.baseUrl}/api/chats/group`, {
      method: 'POST',
      headers: { cookie: owner.cookie, 'content-type': 'application/json', origin: instances[owner.instance]!.baseUrl },
      body: JSON.stringify({ title: `room ${owner.room}`, members: room.slice(1).map((m) => m.username) }),
    });
    if (res.status !== 201) throw new Error(`creating a room failed: ${res.status} ${await res.text()}`);
    const { chat } = (await res.json()) as { chat: { chatId: string } };
    for (const m of room) m.chatId = chat.chatId;
  });
  log(`${rooms.length} rooms of ${settings.room}`);

  const pending = new Map<string, Pending>();
  const ackMs: number[] = [];
  const deliveryMs: number[] = [];
  const refusals: Record<string, number> = {};
  let duplicates = 0;

  // ---------------------------------------------------------------- connect storm
  const beforeConnect = counter.counts();
  const connectStarted = performance.now();
  let failedConnects = 0;
  await Promise.all(
    members.map(
      (m) =>
        new Promise<void>((resolve) => {
          const instance = instances[m.instance]!;
          const socket = new WebSocket(instance.wsUrl, { headers: { cookie: m.cookie, origin: instance.baseUrl } });
          m.socket = socket;
          socket.on('message', (data: Buffer) => {
            const frame = JSON.parse(data.toString()) as {
              type: string;
              clientMsgId?: string;
              code?: string;
              details?: { clientMsgId?: string };
              message?: { clientMsgId: string };
            };
            const now = performance.now();
            if (frame.type === 'hello') resolve();
            else if (frame.type === 'message') {
              const entry = pending.get(frame.message!.clientMsgId);
              if (!entry) return;
              if (!entry.waitingFor.delete(m.index)) duplicates += 1;
              else if (m.instance !== entry.senderInstance) deliveryMs.push(now - entry.sentAt);
            } else if (frame.type === 'ack') {
              const entry = pending.get(frame.clientMsgId!);
              if (entry && entry.ackedAt === undefined) {
                entry.ackedAt = now;
                ackMs.push(now - entry.sentAt);
              }
            } else if (frame.type === 'error' && frame.details?.clientMsgId) {
              // A refused send names its clientMsgId in the error's details.
              const entry = pending.get(frame.details.clientMsgId);
              if (entry && !entry.refused) {
                entry.refused = frame.code ?? 'unknown';
                refusals[entry.refused] = (refusals[entry.refused] ?? 0) + 1;
              }
            }
          });
          socket.on('error', () => {
            failedConnects += 1;
            resolve();
          });
          socket.on('close', () => resolve());
        }),
    ),
  );
  const connectSeconds = (performance.now() - connectStarted) / 1000;
  const connectRequests = countsBetween(beforeConnect, counter.counts());
  log(
    `connect: ${members.length - failedConnects} of ${members.length} clients to hello in ${round(connectSeconds, 2)} s ` +
      `(${Math.round((members.length - failedConnects) / connectSeconds)}/s), ` +
      `${round(connectRequests.total / members.length, 2)} DynamoDB requests per connect ${JSON.stringify(connectRequests.byOperation)}`,
  );

  // ---------------------------------------------------------------- rate sweep
  const steps = [];
  let sequence = 0;
  for (const rate of settings.rates) {
    pending.clear();
    ackMs.length = 0;
    deliveryMs.length = 0;
    for (const code of Object.keys(refusals)) delete refusals[code];
    duplicates = 0;
    const beforeRequests = counter.counts();
    const beforeAnswerMs = counter.answerMs();
    const cpuBefore = await Promise.all(instances.map((i) => cpuSeconds(i.pid)));
    const started = performance.now();
    const total = Math.round(rate * settings.stepSeconds);
    const interval = 1000 / rate;
    for (let n = 0; n < total; n++) {
      const wait = started + n * interval - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const sender = members[(sequence * 7919) % members.length]!;
      const clientMsgId = `m${sequence++}`;
      pending.set(clientMsgId, {
        sentAt: performance.now(),
        senderInstance: sender.instance,
        waitingFor: new Set(rooms[sender.room]!.map((m) => m.index)),
      });
      sender.socket!.send(JSON.stringify({ type: 'send', chatId: sender.chatId, clientMsgId, text: `message ${sequence}` }));
    }
    const sendSeconds = (performance.now() - started) / 1000;
    const settled = () => [...pending.values()].every((p) => p.refused || (p.ackedAt !== undefined && p.waitingFor.size === 0));
    const deadline = performance.now() + SETTLE_MS;
    while (!settled() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const cpuAfter = await Promise.all(instances.map((i) => cpuSeconds(i.pid)));
    const requests = countsBetween(beforeRequests, counter.counts());
    const answerMs = countsBetween(beforeAnswerMs, counter.answerMs());
    const persisted = [...pending.values()].filter((p) => p.ackedAt !== undefined).length;
    const lost = [...pending.values()].reduce((sum, p) => sum + (p.ackedAt !== undefined ? p.waitingFor.size : 0), 0);
    const unanswered = [...pending.values()].filter((p) => p.ackedAt === undefined && !p.refused).length;
    ackMs.sort((a, b) => a - b);
    deliveryMs.sort((a, b) => a - b);
    const cpu = cpuAfter.reduce((sum, after, i) => sum + after - cpuBefore[i]!, 0);
    const step = {
      rate,
      offeredPerSecond: round(total / sendSeconds),
      sent: total,
      acked: persisted,
      refused: { ...refusals },
      unanswered,
      lostDeliveries: lost,
      duplicates,
      ackMs: { p50: round(percentile(ackMs, 50)), p99: round(percentile(ackMs, 99)) },
      deliveryMs: { p50: round(percentile(deliveryMs, 50)), p99: round(percentile(deliveryMs, 99)), max: round(deliveryMs.at(-1) ?? 0) },
      dynamoRequestsPerMessage: round(requests.total / Math.max(1, persisted), 3),
      dynamoRequests: requests.byOperation,
      dynamoMeanAnswerMs: meanAnswerMs(requests.byOperation, answerMs.byOperation),
      instanceCpuMsPerMessage: round((cpu * 1000) / Math.max(1, persisted), 2),
      instanceCpuUsPerDelivery: round((cpu * 1e6) / Math.max(1, persisted * settings.room), 0),
    };
    steps.push(step);
    log(
      `${String(rate).padStart(5)} msg/s: ack p50 ${step.ackMs.p50} p99 ${step.ackMs.p99} ms; delivery p50 ${step.deliveryMs.p50} ` +
        `p99 ${step.deliveryMs.p99} ms; ${step.dynamoRequestsPerMessage} DynamoDB req/msg; ${step.instanceCpuMsPerMessage} ms CPU/msg ` +
        `(${step.instanceCpuUsPerDelivery} µs/delivery); acked ${persisted}/${total}, refused ${JSON.stringify(step.refused)}, ` +
        `unanswered ${unanswered}, lost ${lost}, duplicates ${duplicates}; DynamoDB answers in ${JSON.stringify(step.dynamoMeanAnswerMs)} ms`,
    );
    if (unanswered > total / 2) {
      log('more than half the sends went unanswered: the sweep stops here');
      break;
    }
  }

  const within = steps.filter(
    (s) => s.deliveryMs.p99 <= settings.p99TargetMs && s.lostDeliveries === 0 && s.unanswered === 0 && Object.keys(s.refused).length === 0,
  );
  const best = within.at(-1);
  const rss = await Promise.all(instances.map((i) => residentMiB(i.pid)));
  log(
    `highest rate with delivery p99 <= ${settings.p99TargetMs} ms and nothing lost or refused: ${best ? `${best.rate} msg/s` : 'none of the rates tried'}`,
  );
  log(`instance RSS ${rss.map((r) => Math.round(r)).join(' / ')} MiB`);
  log(
    `json ${JSON.stringify({ settings, connect: { seconds: round(connectSeconds, 2), failed: failedConnects, requests: connectRequests }, steps, rssMiB: rss })}`,
  );
  for (const m of members) m.socket?.terminate();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
