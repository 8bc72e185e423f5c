/**
 * npm run bench:failover: the scenario of test/multi-instance/failover.test.ts at a
 * larger size. Instances as separate processes over DynamoDB Local and Redis; pairs
 * of clients (a sender on one instance, its receiver on the next) behaving as the
 * page does (test/helpers/steady-clients.ts); a steady total send rate; halfway
 * through, the first instance is killed with SIGKILL and its clients reconnect,
 * after the page's jittered backoff, round robin to the instances still running.
 *
 * Prints: how many clients lost their socket and how many are back, reconnect time
 * (close to next `hello`) p50/p99/max, and messages sent / acked / stored / lost /
 * doubled (lost: acked but not stored, or stored but missing at the receiver after
 * its sync; doubled: stored twice or received twice live), and how many sends were
 * answered `unavailable` and sent again.
 *
 * Knobs (environment): BENCH_INSTANCES (3), BENCH_CLIENTS (300: half senders, half
 * receivers), BENCH_RATE messages/s in total (50), BENCH_SECONDS of sending (20).
 */
import { signIn } from '../../test/helpers/sign-in.js';
import type { Person } from '../../test/helpers/people.js';
import {
  checkDelivery,
  connectReconnecting,
  sendSteadily,
  type DeliveryCheck,
  type ReconnectingClient,
  type SteadySender,
} from '../../test/helpers/steady-clients.js';
import { percentile } from '../load/percentile.js';
import { inParallel } from '../load/in-parallel.js';
import { startBenchStack, type BenchInstance } from './bench-stack.js';

const settings = {
  instances: Number(process.env.BENCH_INSTANCES ?? 3),
  clients: Number(process.env.BENCH_CLIENTS ?? 300),
  rate: Number(process.env.BENCH_RATE ?? 50),
  seconds: Number(process.env.BENCH_SECONDS ?? 20),
};

function log(line: string) {
  process.stdout.write(`${line}\n`);
}

async function main() {
  if (settings.instances < 2) throw new Error('BENCH_INSTANCES: at least 2 (one is killed)');
  if (settings.clients < 2 * settings.instances) throw new Error(`BENCH_CLIENTS: at least ${2 * settings.instances}`);
  log(`failover benchmark: ${JSON.stringify(settings)}`);
  const stack = await startBenchStack();
  try {
    const instances = await stack.startInstances(settings.instances, {
      // Every simulated user signs in from this one address: the per-address budget would refuse them.
      HTTP_RATE_LIMIT_PER_MINUTE: '1000000',
    });
    log(`instances: ${instances.map((i) => i.baseUrl).join(', ')}; redis ${stack.redisUrl}`);
    await run(instances);
  } finally {
    await stack.close();
  }
}

async function run(instances: BenchInstance[]) {
  const killed = new Set<BenchInstance>();
  let turn = 0;
  // The load balancer: a client's own instance while it runs, else the next running one, round robin.
  const routeFrom = (home: BenchInstance) => () => {
    if (!killed.has(home)) return home.wsUrl;
    const live = instances.filter((i) => !killed.has(i));
    return live[turn++ % live.length]!.wsUrl;
  };

  const tag = Date.now().toString(36);
  const pairCount = Math.floor(settings.clients / 2);
  const people: Person[] = new Array<Person>(pairCount * 2);
  await inParallel([...people.keys()], 8, async (i) => {
    const username = `f${tag}u${i}`;
    const { cookie, userId } = await signIn(instances[(i >> 1) % instances.length]!.baseUrl, username);
    people[i] = { username, userId, cookie };
  });
  log(`signed in ${people.length} users`);

  const pairs: { home: BenchInstance; sender: ReconnectingClient; receiver: ReconnectingClient; chatId: string }[] = [];
  await inParallel([...Array(pairCount).keys()], 8, async (p) => {
    const home = instances[p % instances.length]!;
    const away = instances[(p + 1) % instances.length]!;
    const [senderPerson, receiverPerson] = [people[2 * p]!, people[2 * p + 1]!];
    const res = await fetch(`${home.baseUrl}/api/chats/direct`, {
      method: 'POST',
      headers: { cookie: senderPerson.cookie, origin: home.baseUrl, 'content-type': 'application/json' },
      body: JSON.stringify({ username: receiverPerson.username }),
    });
    if (res.status !== 200) throw new Error(`opening a direct chat failed: ${res.status} ${await res.text()}`);
    const { chat } = (await res.json()) as { chat: { chatId: string } };
    const receiver = connectReconnecting(receiverPerson, routeFrom(away));
    const sender = connectReconnecting(senderPerson, routeFrom(home));
    await Promise.all([receiver.ready, sender.ready]);
    pairs.push({ home, sender, receiver, chatId: chat.chatId });
  });
  log(`connected ${pairs.length * 2} clients`);

  // Each sender sends every `intervalMs`, the senders spread over that interval: `rate` in total.
  const intervalMs = (1000 * pairs.length) / settings.rate;
  const messagesEach = Math.max(1, Math.round((settings.rate * settings.seconds) / pairs.length));
  const sending: SteadySender[] = pairs.map(({ sender, chatId }) =>
    sendSteadily(sender, chatId, { messages: messagesEach, intervalMs, startDelayMs: Math.random() * intervalMs, ackDeadlineMs: 60_000 }),
  );
  log(`sending ${messagesEach} messages per sender, one every ${Math.round(intervalMs)} ms each`);

  await new Promise((resolve) => setTimeout(resolve, (settings.seconds * 1000) / 2));
  const victim = instances[0]!;
  killed.add(victim);
  process.kill(victim.pid, 'SIGKILL');
  log(`killed ${victim.baseUrl} (SIGKILL) halfway through`);
  await Promise.all(sending.map((s) => s.done));

  const clients = pairs.flatMap((p) => [p.sender, p.receiver]);
  const cut = clients.filter((c) => c.closes.length > 0);
  const backDeadline = Date.now() + 60_000;
  while (cut.some((c) => !c.isReady()) && Date.now() < backDeadline) await new Promise((r) => setTimeout(r, 100));

  const survivor = instances.find((i) => !killed.has(i))!;
  const checks: DeliveryCheck[] = [];
  await inParallel(pairs, 8, async (pair, i) => {
    checks.push(await checkDelivery(survivor, sending[i]!, pair.receiver));
  });

  const times = cut.flatMap((c) => c.reconnectMs).sort((x, y) => x - y);
  const attempts = cut.flatMap((c) => c.reconnectAttempts).sort((x, y) => x - y);
  const sum = (f: (c: DeliveryCheck) => number) => checks.reduce((n, c) => n + f(c), 0);
  const results = {
    clientsCut: cut.length,
    clientsBack: cut.filter((c) => c.isReady()).length,
    attemptsPerReconnect: {
      p50: percentile(attempts, 50),
      p99: percentile(attempts, 99),
      max: attempts.at(-1) ?? NaN,
    },
    reconnectMs: {
      p50: Math.round(percentile(times, 50)),
      p99: Math.round(percentile(times, 99)),
      max: Math.round(times.at(-1) ?? NaN),
    },
    messages: {
      sent: sum((c) => c.sent),
      acked: sum((c) => c.acked),
      stored: sum((c) => c.stored),
      lost: sum((c) => c.lost),
      doubled: sum((c) => c.doubled),
      retriedAfterUnavailable: sum((c) => c.retried),
    },
  };
  log('');
  log(`clients cut / back                 ${results.clientsCut} / ${results.clientsBack}`);
  log(
    `reconnect (close to hello)         p50 ${results.reconnectMs.p50} ms, p99 ${results.reconnectMs.p99} ms, max ${results.reconnectMs.max} ms`,
  );
  const a = results.attemptsPerReconnect;
  log(`attempts per reconnect             p50 ${a.p50}, p99 ${a.p99}, max ${a.max}`);
  const failures = new Map<string, number>();
  for (const why of clients.flatMap((c) => c.failedAttempts)) failures.set(why, (failures.get(why) ?? 0) + 1);
  for (const [why, count] of failures) log(`failed connection attempts         ${count} × ${why}`);
  const m = results.messages;
  log(`messages sent / acked / stored     ${m.sent} / ${m.acked} / ${m.stored}`);
  log(`messages lost / doubled            ${m.lost} / ${m.doubled}`);
  log(`sends retried after unavailable    ${m.retriedAfterUnavailable}`);
  const problems = checks.flatMap((c) => c.problems);
  for (const problem of problems.slice(0, 20)) log(`problem: ${problem}`);
  log(`json ${JSON.stringify({ settings, results })}`);
  for (const client of clients) client.stop();
  if (problems.length > 0) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
