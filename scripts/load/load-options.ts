/** `npm run loadtest` options: what a run does, each bounded so that a run always ends by itself. */
import path from 'node:path';
import { fail } from '../script-support.js';
import { numberOption, parseOptions } from './cli.js';

export const usage = `usage: npm run loadtest -- --targets URL[,URL...] [options]

  --targets URL,...         instances to drive (http://host:port), e.g. the URLs npm run cluster printed
  --connections C           WebSocket clients, one signed-in user each (100; at most 20000)
  --members S               members per group chat, spread over the targets (10; 2 to 200)
  --rate R                  messages per second, all senders together (50; at most 20000)
  --duration D              seconds of sending, or of holding with --idle (10; at most 600)
  --ramp S                  seconds over which clients connect (0: all at once; at most 300)
  --idle                    connect and hold without sending: memory per idle connection
  --message-bytes N         text length of each message (64; 1 to 4000)
  --settle S                seconds to wait for late acks and deliveries after sending (10; at most 120)
  --sign-in-concurrency N   sign-ins in flight at once (16; 1 to 256)
  --prepare MODE            how users get their sessions: sign-in (through each target's local sign-in
                            form, the default) or tables (user and session rows written straight into
                            the service's tables with your AWS credentials: works on a deployed stack)
  --table-prefix P          tables mode: the stack's TABLE_PREFIX (default $TABLE_PREFIX, else none)
  --region R                tables mode: the tables' AWS region (default $AWS_REGION, else us-east-1)
  --dynamodb-endpoint URL   tables mode: a DynamoDB other than AWS's, e.g. DynamoDB Local
                            (default $DYNAMODB_ENDPOINT)
  --pids name=pid,...       more local processes to measure (e.g. redis=123,dynamodb=456); instances
                            on 127.0.0.1 are found by their port
  --out FILE                where the JSON report goes (default .data/loadtest/<time>.json)`;

export interface Target {
  baseUrl: string;
  wsUrl: string;
  /** On this machine: its process can be found and read from /proc. */
  local: boolean;
  port: number;
}

export interface LoadSettings {
  targets: Target[];
  connections: number;
  members: number;
  rate: number;
  durationSeconds: number;
  rampSeconds: number;
  idle: boolean;
  messageBytes: number;
  settleSeconds: number;
  signInConcurrency: number;
  /** Absent: users sign in through the targets' sign-in flow. */
  tables?: { tablePrefix: string; region: string; endpoint: string | undefined } | undefined;
  extraPids: { name: string; pid: number }[];
  outFile: string;
}

function parseTarget(text: string): Target {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    fail(`--targets: "${text}" is not a URL (e.g. http://127.0.0.1:3000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`--targets: "${text}" must be http:// or https://`);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  return {
    baseUrl: url.origin,
    wsUrl: `${url.protocol === 'https:' ? 'wss' : 'ws'}://${url.host}/ws`,
    local: ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname),
    port,
  };
}

function parsePids(text: string | undefined): { name: string; pid: number }[] {
  if (!text) return [];
  return text.split(',').map((entry) => {
    const [name, pid] = entry.includes('=') ? entry.split('=') : [`pid-${entry}`, entry];
    const n = Number(pid);
    if (!name || !Number.isInteger(n) || n <= 0) fail(`--pids: "${entry}" is not name=pid`);
    return { name, pid: n };
  });
}

export function loadSettingsFrom(args: string[]): LoadSettings {
  const values = parseOptions(
    args,
    {
      targets: { type: 'string' },
      connections: { type: 'string' },
      members: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      ramp: { type: 'string' },
      idle: { type: 'boolean' },
      'message-bytes': { type: 'string' },
      settle: { type: 'string' },
      'sign-in-concurrency': { type: 'string' },
      prepare: { type: 'string' },
      'table-prefix': { type: 'string' },
      region: { type: 'string' },
      'dynamodb-endpoint': { type: 'string' },
      pids: { type: 'string' },
      out: { type: 'string' },
    },
    usage,
  );
  if (!values.targets) fail(`--targets is required\n\n${usage}`);
  const prepare = values.prepare ?? 'sign-in';
  if (prepare !== 'sign-in' && prepare !== 'tables') fail(`--prepare must be sign-in or tables, not "${prepare}"`);
  const tableOnly = (['table-prefix', 'region', 'dynamodb-endpoint'] as const).filter((name) => values[name] !== undefined);
  if (prepare !== 'tables' && tableOnly.length > 0) fail(`--${tableOnly[0]} applies only with --prepare tables`);
  const connections = numberOption('connections', values.connections, { default: 100, min: 2, max: 20_000 });
  return {
    targets: values.targets.split(',').filter(Boolean).map(parseTarget),
    connections: Math.floor(connections),
    members: Math.floor(numberOption('members', values.members, { default: 10, min: 2, max: Math.min(200, connections) })),
    rate: numberOption('rate', values.rate, { default: 50, min: 0.1, max: 20_000 }),
    durationSeconds: numberOption('duration', values.duration, { default: 10, min: 1, max: 600 }),
    rampSeconds: numberOption('ramp', values.ramp, { default: 0, min: 0, max: 300 }),
    idle: values.idle ?? false,
    messageBytes: Math.floor(numberOption('message-bytes', values['message-bytes'], { default: 64, min: 1, max: 4000 })),
    settleSeconds: numberOption('settle', values.settle, { default: 10, min: 0, max: 120 }),
    signInConcurrency: Math.floor(numberOption('sign-in-concurrency', values['sign-in-concurrency'], { default: 16, min: 1, max: 256 })),
    tables:
      prepare === 'tables'
        ? {
            tablePrefix: values['table-prefix'] ?? process.env.TABLE_PREFIX ?? '',
            region: values.region ?? process.env.AWS_REGION ?? 'us-east-1',
            endpoint: values['dynamodb-endpoint'] ?? process.env.DYNAMODB_ENDPOINT,
          }
        : undefined,
    extraPids: parsePids(values.pids),
    outFile: path.resolve(values.out ?? path.join('.data', 'loadtest', `${new Date().toISOString().replace(/[:.]/g, '-')}.json`)),
  };
}
