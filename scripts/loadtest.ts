/**
 * `npm run loadtest -- --targets URL,... --connections C --members S --rate R --duration D [--ramp S] [--idle]`
 *
 * Drives running instances (`npm run cluster`, or any reachable huddle) with real
 * WebSocket clients: users signed in through the local sign-in flow, or (with
 * `--prepare tables`) written into the service's tables as an operator would, which
 * also works on a deployed stack; group chats of S members spread over the targets, clients connected (ramped
 * over S seconds with --ramp), messages sent at R per second for D seconds, then a
 * settle period, then every room's history read back over HTTP to confirm that each
 * acked message is stored exactly once and in order. With --idle it connects and
 * holds instead, and reports memory per idle connection.
 *
 * Live progress goes to stderr on one line; the report to stdout and, as JSON, to
 * --out. CPU and memory of instances on this machine come from /proc (found by
 * their port); remote targets have no such figures. Every phase is bounded: the run
 * ends by itself; Ctrl-C or SIGTERM stops it early and still prints and writes the
 * report, marked partial. How to read the figures: docs/load-testing.md.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fail } from './script-support.js';
import { loadSettingsFrom, type LoadSettings } from './load/load-options.js';
import { prepareUsers, type LoadUser, type PreparedUsers, type Room } from './load/prepare-users.js';
import { createDynamoClient } from '../src/adapters/dynamodb/client.js';
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

/** What the run has learnt so far: a run stopped by Ctrl-C or SIGTERM still reports it (marked partial). */
const run: {
  report?: LoadReport;
  watched: WatchedProcess[];
  /** When the measured phase (sending or the idle hold) began, and the generator's CPU then. */
  measureStarted?: { at: number; cpu: NodeJS.CpuUsage };
  sendStarted?: number;
} = { watched: [] };

const round = (n: number, digits = 1) => +n.toFixed(digits);
const log = (line: string) => process.stdout.write(`${line}\n`);

const progress = new ProgressLine(() => {
  if (phase === 'signing in')
    return `${settings.tables ? 'writing users into the tables' : 'signing in'} ${signedIn}/${settings.connections}`;
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
      (s.rampSeconds ? `, ramp ${s.rampSeconds} s` : '') +
      (s.tables
        ? `; users written into the tables (prefix "${s.tables.tablePrefix}") of ${s.tables.endpoint ?? `DynamoDB in ${s.tables.region}`}`
        : ''),
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
  const tableClient = s.tables ? createDynamoClient({ region: s.tables.region, endpoint: s.tables.endpoint }) : undefined;
  let prepared: PreparedUsers;
  try {
    prepared = await prepareUsers(
      { ...s, tag, tables: tableClient && s.tables ? { client: tableClient, tablePrefix: s.tables.tablePrefix } : undefined },
      (n) => (signedIn = n),
    );
  } finally {
    tableClient?.destroy();
  }
  users = prepared.users;

  const watched = (run.watched = await watchProcesses(s.targets, s.extraPids));
  const sampler = setInterval(() => void sampleMemory(watched), 500);
  sampler.unref();
  await mark(watched, 'before connect');

  phase = 'connecting';
  const report: LoadReport = (run.report = {
    startedAt: new Date().toISOString(),
    settings: { ...s, targets: s.targets.map((t) => t.baseUrl), outFile: undefined },
    users: {
      prepared: users.length,
      how: s.tables ? 'tables' : 'sign-in',
      signInSeconds: round(prepared.signInSeconds, 2),
      signInsPerSecond: round(users.length / prepared.signInSeconds),
      rooms: prepared.rooms.length,
      roomSeconds: round(prepared.roomSeconds),
    },
    connections: connectionFigures(NaN),
    processes: [],
    loadGenerator: { cpuSeconds: 0, percentOfCore: 0 },
  });
  const connect = await connectAll(users, s.rampSeconds, tally);
  report.connections = connectionFigures(connect.seconds);
  await mark(watched, 'connected');

  run.measureStarted = { at: performance.now(), cpu: process.cpuUsage() };
  if (s.idle) {
    await holdIdle(report, watched);
  } else {
    await sendAndSettle(report, prepared.rooms);
    await mark(watched, 'settled');
  }
  await measurePhaseEnd(report, s.idle ? ['idle start', 'idle end'] : ['connected', 'settled']);
  clearInterval(sampler);

  if (!s.idle) {
    phase = 'reading history back';
    report.history = await checkHistory(prepared.rooms, tally, tag, HISTORY_BUDGET_SECONDS);
  }
  progress.stop();
  disconnectAll(users);
  await printAndWrite(report);
}

function connectionFigures(seconds: number): LoadReport['connections'] {
  return {
    attempted: users.length,
    made: users.length - tally.failed,
    failed: tally.failed,
    failures: tally.connectFailures,
    seconds: round(seconds, 2),
    connectMs: tally.connectLatency.summary(),
    closedDuringRun: tally.closes,
  };
}

/** The generator's and the watched processes' CPU over the measured phase, between two marks. */
async function measurePhaseEnd(report: LoadReport, [from, to]: [string, string]): Promise<void> {
  const started = run.measureStarted;
  if (!started) return;
  const phaseSeconds = (performance.now() - started.at) / 1000;
  const cpu = process.cpuUsage(started.cpu);
  const generatorSeconds = (cpu.user + cpu.system) / 1e6;
  report.loadGenerator = { cpuSeconds: round(generatorSeconds, 2), percentOfCore: round((generatorSeconds / phaseSeconds) * 100) };
  report.processes = await figuresBetween(run.watched, from, to, settings.idle ? settings.durationSeconds : phaseSeconds);
}

async function printAndWrite(report: LoadReport): Promise<void> {
  log('');
  for (const line of reportLines(report)) log(line);
  await writeReport(settings.outFile, report);
  log(`report written to ${settings.outFile}`);
}

async function sendAndSettle(report: LoadReport, rooms: Room[]): Promise<void> {
  const s = settings;
  phase = 'sending';
  // Slot-major order: consecutive senders sit in different rooms and, rooms alternating their members, on different targets.
  const senders = users.filter((u) => u.open).sort((a, b) => a.slot - b.slot || a.room - b.room);
  if (senders.length === 0) throw new Error('no client connected: nothing to send from');
  const text = (clientMsgId: string) => `${clientMsgId} `.padEnd(s.messageBytes, 'x').slice(0, s.messageBytes);
  const total = Math.max(1, Math.round(s.rate * s.durationSeconds));
  const started = (run.sendStarted = performance.now());
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
  report.messages = messageFigures(sendSeconds);
}

/** What the clients saw of the messages sent so far; `sendSeconds` is how long sending went on. */
function messageFigures(sendSeconds: number): NonNullable<LoadReport['messages']> {
  const { deliveries: lost, unanswered } = tally.outstanding();
  const firstSent = tally.firstSentAt ?? run.sendStarted ?? performance.now();
  const deliveryWindow = ((tally.lastDeliveredAt ?? performance.now()) - firstSent) / 1000;
  return {
    sent: tally.sent.size,
    sendSeconds: round(sendSeconds, 2),
    offeredPerSecond: round(tally.sent.size / Math.max(sendSeconds, 0.001)),
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

/**
 * Ctrl-C or SIGTERM: the clients stop at once, and whatever was measured until then
 * is printed and written, marked partial (no history read-back: the service may still
 * be storing the last sends). A second signal exits without a report.
 */
async function stopEarly(signal: NodeJS.Signals): Promise<void> {
  const stoppedIn = phase;
  progress.stop();
  disconnectAll(users);
  process.stderr.write(`${signal} during ${stoppedIn}: the load test stops and reports what it measured so far\n`);
  const report: LoadReport = run.report ?? {
    startedAt: new Date().toISOString(),
    settings: { ...settings, targets: settings.targets.map((t) => t.baseUrl), outFile: undefined },
    users: {
      prepared: signedIn,
      how: settings.tables ? 'tables' : 'sign-in',
      signInSeconds: NaN,
      signInsPerSecond: NaN,
      rooms: 0,
      roomSeconds: NaN,
    },
    connections: connectionFigures(NaN),
    processes: [],
    loadGenerator: { cpuSeconds: 0, percentOfCore: 0 },
  };
  report.partial = { signal, phase: stoppedIn };
  report.connections = { ...connectionFigures(report.connections.seconds), closedDuringRun: tally.closes };
  if (!settings.idle && run.sendStarted !== undefined && !report.messages) {
    report.messages = messageFigures((performance.now() - run.sendStarted) / 1000);
  }
  if (run.measureStarted && report.processes.length === 0) {
    await mark(run.watched, 'stopped');
    await measurePhaseEnd(report, ['connected', 'stopped']);
  }
  await printAndWrite(report);
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    stopEarly(signal).then(
      () => process.exit(130),
      (err: unknown) => fail(`${signal}: writing the partial report failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  });
}

// Once stopped early, the signal handler's report and exit win over whatever main is still doing.
main().then(
  () => {
    if (!interrupted) process.exit(0);
  },
  (err: unknown) => {
    if (interrupted) return;
    progress.stop();
    disconnectAll(users);
    fail(`the load test failed: ${err instanceof Error ? err.message : String(err)}`);
  },
);
