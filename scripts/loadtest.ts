/**
 * `npm run loadtest -- --targets URL,... --connections C --members S --rate R --duration D [--ramp S] [--idle]`
 *
 * Drives running instances (`npm run cluster`, or any reachable huddle in local
 * sign-in mode) with real WebSocket clients: users signed in through the sign-in
 * flow, group chats of S members spread over the targets, clients connected (ramped
 * over S seconds with --ramp), messages sent at R per second for D seconds, then a
 * settle period, then every room's history read back over HTTP to confirm that each
 * acked message is stored exactly once and in order. With --idle it connects and
 * holds instead, and reports memory per idle connection.
 *
 * Live progress goes to stderr on one line; the report to stdout and, as JSON, to
 * --out. CPU and memory of instances on this machine come from /proc (found by
 * their port); remote targets have no such figures. Every phase is bounded: the run
 * ends by itself. How to read the figures: docs/load-testing.md.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fail } from './script-support.js';
import { loadSettingsFrom, type LoadSettings } from './load/load-options.js';
import { prepareUsers, type LoadUser, type Room } from './load/prepare-users.js';
import { connectAll, disconnectAll, RunTally } from './load/load-clients.js';
import { checkHistory } from './load/history-check.js';
import { figuresBetween, mark, sampleMemory, watchProcesses, type WatchedProcess } from './load/process-watch.js';
import { ProgressLine } from './load/progress-line.js';
import { reportLines, writeReport, type LoadReport } from './load/report.js';

/** Per socket, the service allows 20 frames a second sustained; past it sends are refused as rate_limited. */
const PER_SOCKET_SEND_LIMIT = 20;
const HISTORY_BUDGET_SECONDS = 120;
/** Before an idle hold is measured: late hellos, subscriptions and their first allocations settle. */
const IDLE_SETTLE_MS = 3000;

const settings = loadSettingsFrom(process.argv.slice(2));
const tag = `${Date.now().toString(36)}`;
const tally = new RunTally();
let users: LoadUser[] = [];
let phase = 'signing in';
let signedIn = 0;

const round = (n: number, digits = 1) => +n.toFixed(digits);
const log = (line: string) => process.stdout.write(`${line}\n`);

const progress = new ProgressLine(() => {
  if (phase === 'signing in') return `signing in ${signedIn}/${settings.connections}`;
  const ack = tally.ackLatency.percentile(99);
  const delivery = tally.deliveryLatency.percentile(99);
  const refused = Object.values(tally.refusals).reduce((a, b) => a + b, 0);
  const errors = refused + tally.failed + Object.values(tally.otherErrors).reduce((a, b) => a + b, 0);
  return (
    `${phase}: conn ${tally.open}/${settings.connections} (failed ${tally.failed}) · sent ${tally.sent.size} · acked ${tally.acked} · ` +
    `delivered ${tally.delivered} · p99 ack ${Number.isNaN(ack) ? '-' : ack.toFixed(0)} ms, delivery ${Number.isNaN(delivery) ? '-' : delivery.toFixed(0)} ms · errors ${errors}`
  );
});

/** The longest a run may take, from its settings; past it the run stops with what it has. */
function runBudgetMs(s: LoadSettings): number {
  const signIn = 120 + s.connections / 2;
  return (signIn + s.rampSeconds + 30 + s.durationSeconds + s.settleSeconds + HISTORY_BUDGET_SECONDS + 60) * 1000;
}

async function main(): Promise<void> {
  const s = settings;
  const perSocket = s.rate / s.connections;
  log(
    `load test ${tag}: ${s.connections} clients over ${s.targets.map((t) => t.baseUrl).join(', ')}, rooms of ${s.members}, ` +
      (s.idle ? `idle for ${s.durationSeconds} s` : `${s.rate} msg/s for ${s.durationSeconds} s`) +
      (s.rampSeconds ? `, ramp ${s.rampSeconds} s` : ''),
  );
  if (!s.idle && perSocket > PER_SOCKET_SEND_LIMIT * 0.75) {
    log(
      `note: ${round(perSocket, 1)} sends/s per socket nears the service's ${PER_SOCKET_SEND_LIMIT}/s per socket: expect rate_limited refusals; add connections`,
    );
  }
  const watchdog = setTimeout(() => {
    progress.stop();
    disconnectAll(users);
    process.stderr.write(`the run passed its time budget (${Math.round(runBudgetMs(s) / 1000)} s) and stops\n`);
    process.exit(2);
  }, runBudgetMs(s));
  watchdog.unref();

  progress.start();
  const prepared = await prepareUsers({ ...s, tag }, (n) => (signedIn = n));
  users = prepared.users;

  const watched = await watchProcesses(s.targets, s.extraPids);
  const sampler = setInterval(() => void sampleMemory(watched), 500);
  sampler.unref();
  await mark(watched, 'before connect');

  phase = 'connecting';
  const connect = await connectAll(users, s.rampSeconds, tally);
  await mark(watched, 'connected');

  const report: LoadReport = {
    startedAt: new Date().toISOString(),
    settings: { ...s, targets: s.targets.map((t) => t.baseUrl), outFile: undefined },
    users: {
      prepared: users.length,
      signInSeconds: round(prepared.signInSeconds),
      signInsPerSecond: round(users.length / prepared.signInSeconds),
      rooms: prepared.rooms.length,
      roomSeconds: round(prepared.roomSeconds),
    },
    connections: {
      attempted: users.length,
      made: users.length - tally.failed,
      failed: tally.failed,
      failures: tally.connectFailures,
      seconds: round(connect.seconds, 2),
      connectMs: tally.connectLatency.summary(),
      closedDuringRun: tally.closes,
    },
    processes: [],
    loadGenerator: { cpuSeconds: 0, percentOfCore: 0 },
  };

  const cpuBefore = process.cpuUsage();
  const phaseStarted = performance.now();
  if (s.idle) {
    await holdIdle(report, watched);
  } else {
    await sendAndSettle(report, prepared.rooms);
    await mark(watched, 'settled');
  }
  const phaseSeconds = (performance.now() - phaseStarted) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const generatorSeconds = (cpu.user + cpu.system) / 1e6;
  report.loadGenerator = { cpuSeconds: round(generatorSeconds, 2), percentOfCore: round((generatorSeconds / phaseSeconds) * 100) };
  report.processes = s.idle
    ? await figuresBetween(watched, 'idle start', 'idle end', s.durationSeconds)
    : await figuresBetween(watched, 'connected', 'settled', phaseSeconds);
  clearInterval(sampler);

  if (!s.idle) {
    phase = 'reading history back';
    report.history = await checkHistory(prepared.rooms, tally, tag, HISTORY_BUDGET_SECONDS);
  }
  progress.stop();
  disconnectAll(users);

  log('');
  for (const line of reportLines(report)) log(line);
  await writeReport(s.outFile, report);
  log(`report written to ${s.outFile}`);
}

async function sendAndSettle(report: LoadReport, rooms: Room[]): Promise<void> {
  const s = settings;
  phase = 'sending';
  // Slot-major order: consecutive senders sit in different rooms and, rooms alternating their members, on different targets.
  const senders = users.filter((u) => u.open).sort((a, b) => a.slot - b.slot || a.room - b.room);
  if (senders.length === 0) throw new Error('no client connected: nothing to send from');
  const text = (clientMsgId: string) => `${clientMsgId} `.padEnd(s.messageBytes, 'x').slice(0, s.messageBytes);
  const total = Math.max(1, Math.round(s.rate * s.durationSeconds));
  const started = performance.now();
  let n = 0;
  let turn = 0;
  while (n < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * s.rate) + 1);
    for (; n < due; n++) {
      let sender: LoadUser | undefined;
      for (let tries = 0; tries < senders.length && !sender?.open; tries++) sender = senders[turn++ % senders.length];
      if (!sender?.open) throw new Error('every client has disconnected: the run stops');
      const clientMsgId = `${tag}-${n}`;
      tally.send(sender, rooms[sender.room]!, clientMsgId, text(clientMsgId));
    }
    const nextDue = started + (n / s.rate) * 1000;
    await sleep(Math.max(1, nextDue - performance.now()));
  }
  const sendSeconds = (performance.now() - started) / 1000;

  phase = 'settling';
  const settleDeadline = performance.now() + s.settleSeconds * 1000;
  for (;;) {
    const { deliveries, unanswered } = tally.outstanding();
    if ((deliveries === 0 && unanswered === 0) || performance.now() > settleDeadline) break;
    await sleep(100);
  }
  const { deliveries: lost, unanswered } = tally.outstanding();
  const deliveryWindow = ((tally.lastDeliveredAt ?? performance.now()) - (tally.firstSentAt ?? started)) / 1000;
  report.messages = {
    sent: tally.sent.size,
    sendSeconds: round(sendSeconds, 2),
    offeredPerSecond: round(tally.sent.size / sendSeconds),
    acked: tally.acked,
    refused: tally.refusals,
    unanswered,
    expectedDeliveries: tally.expectedDeliveries(),
    delivered: tally.delivered,
    crossInstanceShare: round(tally.crossInstanceDeliveries / Math.max(1, tally.deliveriesToOthers), 3),
    deliveredPerSecond: Math.round(tally.delivered / Math.max(deliveryWindow, 0.001)),
    lostDeliveries: lost,
    duplicates: tally.duplicates,
    otherErrors: tally.otherErrors,
    resyncs: tally.resyncs,
    latencyMs: { sendToAck: tally.ackLatency.summary(), sendToDelivery: tally.deliveryLatency.summary() },
  };
}

async function holdIdle(report: LoadReport, watched: WatchedProcess[]): Promise<void> {
  phase = 'holding idle';
  await sleep(IDLE_SETTLE_MS);
  await mark(watched, 'idle start');
  await sleep(settings.durationSeconds * 1000);
  await mark(watched, 'idle end');
  report.idle = {
    heldSeconds: settings.durationSeconds,
    instances: watched
      .filter((p) => p.target)
      .map((p) => {
        const connections = users.filter((u) => u.open && u.target === p.target).length;
        const before = p.marks.get('before connect')!.rssMiB;
        const after = p.marks.get('idle end')!.rssMiB;
        return {
          name: p.name,
          connections,
          rssBeforeMiB: round(before),
          rssAfterMiB: round(after),
          kibPerConnection: round(((after - before) * 1024) / Math.max(1, connections)),
        };
      }),
  };
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    progress.stop();
    disconnectAll(users);
    process.stderr.write(`${signal}: the load test stops; no report\n`);
    process.exit(130);
  });
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    progress.stop();
    disconnectAll(users);
    fail(`the load test failed: ${err instanceof Error ? err.message : String(err)}`);
  },
);
