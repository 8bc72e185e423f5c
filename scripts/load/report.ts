/** The figures of a load run, as JSON (written to a file) and as a few lines for a person. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LatencySummary } from './latency-histogram.js';
import type { HistoryCheck } from './history-check.js';
import type { ProcessFigures } from './process-watch.js';

export interface LoadReport {
  startedAt: string;
  /** Present when Ctrl-C or SIGTERM stopped the run: its figures cover only what happened until then. */
  partial?: { signal: string; phase: string };
  settings: Record<string, unknown>;
  users: {
    prepared: number;
    how: 'sign-in' | 'tables';
    signInSeconds: number;
    signInsPerSecond: number;
    rooms: number;
    roomSeconds: number;
  };
  connections: {
    attempted: number;
    made: number;
    failed: number;
    failures: Record<string, number>;
    seconds: number;
    connectMs: LatencySummary;
    closedDuringRun: Record<string, number>;
  };
  messages?: {
    sent: number;
    sendSeconds: number;
    offeredPerSecond: number;
    acked: number;
    refused: Record<string, number>;
    unanswered: number;
    expectedDeliveries: number;
    delivered: number;
    crossInstanceShare: number;
    deliveredPerSecond: number;
    lostDeliveries: number;
    duplicates: number;
    otherErrors: Record<string, number>;
    resyncs: number;
    latencyMs: { sendToAck: LatencySummary; sendToDelivery: LatencySummary };
  };
  history?: HistoryCheck;
  idle?: {
    heldSeconds: number;
    instances: { name: string; connections: number; rssBeforeMiB: number; rssAfterMiB: number; kibPerConnection: number }[];
  };
  /** CPU over the sending phase (until settled) or the idle hold; peak memory over the whole run. */
  processes: ProcessFigures[];
  loadGenerator: { cpuSeconds: number; percentOfCore: number };
}

export async function writeReport(file: string, report: LoadReport): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
}

const ms = (s: LatencySummary) => `p50 ${s.p50} p90 ${s.p90} p99 ${s.p99} max ${s.max} ms`;
const codes = (counts: Record<string, number>) =>
  Object.keys(counts).length === 0
    ? 'none'
    : Object.entries(counts)
        .map(([code, n]) => `${code} ${n}`)
        .join(', ');

export function reportLines(report: LoadReport): string[] {
  const { users, connections: c, messages: m, history: h, idle } = report;
  const lines = [
    ...(report.partial
      ? [
          `PARTIAL     stopped by ${report.partial.signal} while ${report.partial.phase}: figures cover only what happened until then; no history read back`,
        ]
      : []),
    users.how === 'tables'
      ? `users       ${users.prepared} written into the tables in ${users.signInSeconds} s (${users.signInsPerSecond}/s), ${users.rooms} rooms in ${users.roomSeconds} s`
      : `users       ${users.prepared} signed in in ${users.signInSeconds} s (${users.signInsPerSecond}/s), ${users.rooms} rooms in ${users.roomSeconds} s`,
    `connections ${c.made} of ${c.attempted} in ${c.seconds} s, connect ${ms(c.connectMs)}; failed ${c.failed} (${codes(c.failures)}); closed during the run: ${codes(c.closedDuringRun)}`,
  ];
  if (m) {
    lines.push(
      `messages    sent ${m.sent} in ${m.sendSeconds} s (${m.offeredPerSecond}/s), acked ${m.acked}, refused ${codes(m.refused)}, unanswered ${m.unanswered}`,
      `deliveries  ${m.delivered} of ${m.expectedDeliveries} (${m.deliveredPerSecond}/s, ${Math.round(m.crossInstanceShare * 100)}% of those to others across instances), lost ${m.lostDeliveries}, duplicates ${m.duplicates}`,
      `send→ack    ${ms(m.latencyMs.sendToAck)}`,
      `send→deliv  ${ms(m.latencyMs.sendToDelivery)}`,
    );
    if (m.resyncs > 0 || Object.keys(m.otherErrors).length > 0)
      lines.push(`other       resyncs ${m.resyncs}, errors ${codes(m.otherErrors)}`);
  }
  if (h) {
    lines.push(
      `stored      ${h.complete ? '' : '(incomplete: time ran out) '}${h.storedMessages} read back from ${h.roomsRead} rooms in ${h.seconds} s: ` +
        `acked but not stored ${h.ackedNotStored}, stored twice ${h.storedTwice}, seq differs from ack ${h.seqDiffersFromAck}, ` +
        `out of order ${h.outOfOrder}, stored without ack ${h.storedWithoutAck}`,
    );
  }
  if (idle) {
    for (const i of idle.instances) {
      lines.push(
        `idle        ${i.name}: ${i.connections} connections, RSS ${i.rssBeforeMiB} → ${i.rssAfterMiB} MiB, ${i.kibPerConnection} KiB per connection`,
      );
    }
  }
  for (const p of report.processes) {
    lines.push(`process     ${p.name} (pid ${p.pid}): ${p.cpuSeconds} CPU s (${p.percentOfCore}% of a core), peak RSS ${p.peakRssMiB} MiB`);
  }
  lines.push(`generator   ${report.loadGenerator.cpuSeconds} CPU s (${report.loadGenerator.percentOfCore}% of a core)`);
  return lines;
}
