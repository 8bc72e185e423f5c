/**
 * npm run bench:fanout: two instances (separate processes) sharing Redis and
 * DynamoDB Local, real WebSocket clients spread over both, group chats whose
 * members sit on both instances; messages are sent at a fixed rate for a fixed
 * time and every delivery is timed.
 *
 * Prints: delivered messages per second, latency from send to delivery on the
 * other instance (p50/p99), send-to-ack latency, server CPU seconds per 1,000
 * deliveries and per message, DynamoDB requests per message (the instances reach
 * DynamoDB through a counting proxy), resident memory, and lost deliveries (acked
 * messages a member never received, counted after a drain period). A sweep of
 * rates with 1,000 clients is `npm run bench:write-path`.
 *
 * Knobs (environment): BENCH_INSTANCES (2), BENCH_USERS (40), BENCH_GROUP_SIZE (10),
 * BENCH_RATE messages/s in total (50), BENCH_SECONDS (20); BENCH_NODE_ARGS is passed to the
 * instances' node (for profiling: "--cpu-prof --cpu-prof-dir=/tmp/prof"); REDIS_CLUSTER=true
 * runs them on a throwaway three-master Redis Cluster (sharded pub/sub) instead of one Redis.
 */
import { performance } from 'node:perf_hooks';
import { signIn } from '../../test/helpers/sign-in.js';
import { connectReady, textOf, type ChatClient } from '../../test/helpers/ws-client.js';
import { startBenchStack, type BenchInstance } from './bench-stack.js';
import { cpuSeconds, residentMiB } from '../load/proc-stats.js';
import { percentile } from '../load/percentile.js';
import { countsBetween, startDynamoCounter, type DynamoCounter } from './dynamo-counter.js';

const settings = {
  instances: Number(process.env.BENCH_INSTANCES ?? 2),
  users: Number(process.env.BENCH_USERS ?? 40),
  groupSize: Number(process.env.BENCH_GROUP_SIZE ?? 10),
  rate: Number(process.env.BENCH_RATE ?? 50),
  seconds: Number(process.env.BENCH_SECONDS ?? 20),
};

interface BenchUser {
  index: number;
  username: string;
  cookie: string;
  instance: number;
  client?: ChatClient;
  chatId?: string;
}

interface Sent {
  sentAt: number;
  senderInstance: number;
  chatId: string;
  ackedAt?: number;
  expected: Set<number>;
}

function log(line: string) {
  process.stdout.write(`${line}\n`);
}

async function main() {
  log(`fan-out benchmark: ${JSON.stringify(settings)}`);
  const stack = await startBenchStack();
  const counter = await startDynamoCounter(stack.env.DYNAMODB_ENDPOINT!);
  try {
    const instances = await stack.startInstances(settings.instances, {
      DYNAMODB_ENDPOINT: counter.endpoint,
      FREE_MESSAGES_PER_DAY: '1000000',
      PREMIUM_MESSAGES_PER_DAY: '1000000',
      // Every simulated user signs in from this one address: the per-address budget would refuse them.
      HTTP_RATE_LIMIT_PER_MINUTE: '1000000',
    });
    log(
      `instances: ${instances.map((i) => i.baseUrl).join(', ')}; redis ${stack.redisUrl}${stack.redisCluster ? ' (Redis Cluster, 3 masters)' : ''}`,
    );
    await run(instances, counter);
  } finally {
    await counter.close();
    await stack.close();
  }
}

async function run(instances: BenchInstance[], counter: DynamoCounter) {
  const tag = Date.now().toString(36);
  const users: BenchUser[] = [];
  for (let i = 0; i < settings.users; i++) {
    const instance = i % instances.length;
    const username = `b${tag}u${i}`;
    const { cookie } = await signIn(instances[instance]!.baseUrl, username);
    users.push({ index: i, username, cookie, instance });
  }
  log(`signed in ${users.length} users`);

  // Groups of consecutive users: with round-robin placement every group spans every instance.
  const groups: BenchUser[][] = [];
  for (let i = 0; i < users.length; i += settings.groupSize) groups.push(users.slice(i, i + settings.groupSize));
  for (const [g, members] of groups.entries()) {
    const owner = members[0]!;
    const res = await fetch(`${instances[owner.instance]!.baseUrl}/api/chats/group`, {
      method: 'POST',
      headers: { cookie: owner.cookie, 'content-type': 'application/json', origin: instances[owner.instance]!.baseUrl },
      body: JSON.stringify({ title: `bench ${g}`, members: members.slice(1).map((m) => m.username) }),
    });
    if (res.status !== 201) throw new Error(`creating group ${g} failed: ${res.status} ${await res.text()}`);
    const { chat } = (await res.json()) as { chat: { chatId: string } };
    for (const member of members) member.chatId = chat.chatId;
  }

  const sent = new Map<string, Sent>();
  const crossLatencies: number[] = [];
  const ackLatencies: number[] = [];
  let delivered = 0;
  let errors = 0;
  for (const user of users) {
    const { client } = await connectReady(instances[user.instance]!.wsUrl, user.cookie);
    user.client = client;
    client.socket.on('message', (data) => {
      const frame = JSON.parse(textOf(data)) as { type: string; clientMsgId?: string; message?: { clientMsgId: string } };
      const now = performance.now();
      if (frame.type === 'message') {
        const entry = sent.get(frame.message!.clientMsgId);
        if (!entry || !entry.expected.delete(user.index)) return;
        delivered += 1;
        if (user.instance !== entry.senderInstance) crossLatencies.push(now - entry.sentAt);
      } else if (frame.type === 'ack') {
        const entry = sent.get(frame.clientMsgId!);
        if (entry && entry.ackedAt === undefined) {
          entry.ackedAt = now;
          ackLatencies.push(now - entry.sentAt);
        }
      } else if (frame.type === 'error') {
        errors += 1;
      }
    });
    client.stopRecording();
  }
  log(`connected ${users.length} sockets in ${groups.length} groups of ${settings.groupSize}`);

  const cpuBefore = await Promise.all(instances.map((i) => cpuSeconds(i.pid)));
  const requestsBefore = counter.counts();
  const startedAt = performance.now();
  const intervalMs = 1000 / settings.rate;
  const total = Math.round(settings.rate * settings.seconds);
  for (let n = 0; n < total; n++) {
    const due = startedAt + n * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const sender = users[n % users.length]!;
    const clientMsgId = `b${n}`;
    const group = groups[Math.floor(sender.index / settings.groupSize)]!;
    sent.set(clientMsgId, {
      sentAt: performance.now(),
      senderInstance: sender.instance,
      chatId: sender.chatId!,
      expected: new Set(group.map((m) => m.index)),
    });
    sender.client!.send({ type: 'send', chatId: sender.chatId, clientMsgId, text: `bench message ${n}` });
  }
  const sendingMs = performance.now() - startedAt;

  // Drain: first every ack (or error), then every delivery of an acked message;
  // whatever is still missing 10 s after the last ack counts as lost.
  const outstanding = () => [...sent.values()].reduce((sum, s) => sum + (s.ackedAt !== undefined ? s.expected.size : 0), 0);
  const unacked = () => [...sent.values()].filter((s) => s.ackedAt === undefined).length;
  const ackDeadline = performance.now() + 120_000;
  while (performance.now() < ackDeadline && unacked() > errors) await new Promise((r) => setTimeout(r, 100));
  const deliveryDeadline = performance.now() + 10_000;
  while (performance.now() < deliveryDeadline && outstanding() > 0) await new Promise((r) => setTimeout(r, 100));
  const elapsedMs = performance.now() - startedAt;
  const cpuAfter = await Promise.all(instances.map((i) => cpuSeconds(i.pid)));
  const rss = await Promise.all(instances.map((i) => residentMiB(i.pid)));
  const cpu = cpuAfter.reduce((sum, after, i) => sum + after - cpuBefore[i]!, 0);
  const requests = countsBetween(requestsBefore, counter.counts());

  crossLatencies.sort((x, y) => x - y);
  ackLatencies.sort((x, y) => x - y);
  const acked = [...sent.values()].filter((s) => s.ackedAt !== undefined).length;
  const results = {
    messagesSent: total,
    messagesAcked: acked,
    sendErrors: errors,
    deliveries: delivered,
    lostDeliveries: outstanding(),
    deliveredPerSecond: Math.round(delivered / (elapsedMs / 1000)),
    sendingSeconds: +(sendingMs / 1000).toFixed(1),
    crossInstanceLatencyMs: { p50: +percentile(crossLatencies, 50).toFixed(1), p99: +percentile(crossLatencies, 99).toFixed(1) },
    sendToAckMs: { p50: +percentile(ackLatencies, 50).toFixed(1), p99: +percentile(ackLatencies, 99).toFixed(1) },
    serverCpuSecondsPer1000Deliveries: +((cpu / Math.max(1, delivered)) * 1000).toFixed(3),
    serverCpuSeconds: +cpu.toFixed(2),
    serverCpuMsPerMessage: +((cpu * 1000) / Math.max(1, acked)).toFixed(2),
    dynamoRequestsPerMessage: +(requests.total / Math.max(1, acked)).toFixed(3),
    dynamoRequests: requests.byOperation,
    instanceRssMiB: rss.map((r) => Math.round(r)),
  };
  log('');
  log(`messages sent / acked / errors   ${results.messagesSent} / ${results.messagesAcked} / ${results.sendErrors}`);
  log(`deliveries                       ${results.deliveries} (${results.deliveredPerSecond}/s)`);
  log(`lost deliveries                  ${results.lostDeliveries}`);
  log(`send -> delivery, other instance p50 ${results.crossInstanceLatencyMs.p50} ms, p99 ${results.crossInstanceLatencyMs.p99} ms`);
  log(`send -> ack                      p50 ${results.sendToAckMs.p50} ms, p99 ${results.sendToAckMs.p99} ms`);
  log(
    `server CPU                       ${results.serverCpuSeconds} s, ${results.serverCpuSecondsPer1000Deliveries} s per 1,000 deliveries`,
  );
  log(`server CPU per message           ${results.serverCpuMsPerMessage} ms`);
  log(`DynamoDB requests per message    ${results.dynamoRequestsPerMessage} ${JSON.stringify(results.dynamoRequests)}`);
  log(`instance RSS                     ${results.instanceRssMiB.join(' / ')} MiB`);
  log(`json ${JSON.stringify({ settings, results })}`);
  for (const user of users) await user.client?.close();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
