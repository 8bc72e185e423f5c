/**
 * Reads a V8 .cpuprofile (node --cpu-prof, or BENCH_PROFILE of bench:dynamo) and prints
 * where the sampled thread's time went:
 *   1. by package, where time spent in Node's own code and in V8 built-ins is charged to
 *      the nearest caller that belongs to a package (so "@smithy/signature-v4" includes
 *      the hashing it asks node:crypto for); time with no package above it goes to the
 *      nearest Node module (the socket and HTTP parser callbacks, for instance);
 *   2. the top functions by self time;
 *   3. the top functions by inclusive (synchronous) time;
 *   4. the packages of 1 grouped by what they do for a DynamoDB request (signing, HTTP, ...).
 *
 * Usage: tsx scripts/bench/cpuprofile-top.ts FILE.cpuprofile [TOP=30]
 * A profile samples the main thread only: JIT compilation and most GC work run on
 * other threads, which process.cpuUsage() counts and a profile does not.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: cpuprofile-top FILE.cpuprofile [TOP]\n');
  process.exit(2);
}
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map<number, ProfileNode>();
const parent = new Map<number, number>();
for (const node of profile.nodes) {
  byId.set(node.id, node);
  for (const child of node.children ?? []) parent.set(child, node.id);
}

/** "@scope/name" or "name" of a node_modules file, with @smithy/core and @aws-sdk/core split by submodule. */
function packageOf(url: string): string | undefined {
  const i = url.lastIndexOf('node_modules/');
  if (i < 0) return undefined;
  const parts = url.slice(i + 'node_modules/'.length).split('/');
  const name = parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  const sub = url.match(/\/dist-[a-z]+\/submodules\/([^/]+)\//);
  return sub ? `${name}/${sub[1]}` : name;
}

/** Node's own modules in three groups: socket and HTTP I/O, the timer and microtask machinery, the rest. */
function nodeGroup(url: string): string {
  const m = url.replace(/^node:(internal\/)?/, '');
  if (/^(_http|http|net|stream|streams\/|dns|tcp_wrap|events|buffer|url)/.test(m)) return 'node: HTTP, socket, streams, events';
  if (/^(timers|process\/task_queues|async_hooks)/.test(m)) return 'node: timers, nextTick, microtasks';
  return `node: ${m.split('/')[0]}`;
}

function placeOf(frame: CallFrame): string {
  const pkg = packageOf(frame.url);
  if (pkg) return pkg;
  if (frame.url.startsWith('node:')) return nodeGroup(frame.url);
  if (frame.url.startsWith('file:') || frame.url.startsWith('/')) return 'this project';
  return frame.functionName.startsWith('(') ? frame.functionName : '(V8 built-in)';
}

const isOwner = (frame: CallFrame) => packageOf(frame.url) !== undefined || frame.url.startsWith('file:') || frame.url.startsWith('/');

const shortUrl = (url: string) => {
  const pkg = packageOf(url);
  if (pkg) return pkg;
  return url.replace(/^.*\/(scripts|src|test)\//, '$1/');
};
const fnKey = (f: CallFrame) => `${f.functionName || '(anonymous)'}  ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;

const selfByFn = new Map<string, number>();
const inclByFn = new Map<string, number>();
const byPlace = new Map<string, number>();
const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

let busy = 0;
let idle = 0;
const { samples, timeDeltas } = profile;
for (let i = 0; i < samples.length; i++) {
  // A sample's duration is the gap to the next sample.
  const dt = timeDeltas[i + 1] ?? timeDeltas[i] ?? 0;
  const leaf = byId.get(samples[i]!)!;
  if (leaf.callFrame.functionName === '(idle)') {
    idle += dt;
    continue;
  }
  busy += dt;
  add(selfByFn, fnKey(leaf.callFrame), dt);

  let owner: CallFrame | undefined;
  let nodeOwner: CallFrame | undefined;
  const seen = new Set<string>();
  for (let n: ProfileNode | undefined = leaf; n; n = parent.has(n.id) ? byId.get(parent.get(n.id)!) : undefined) {
    if (!owner && isOwner(n.callFrame)) owner = n.callFrame;
    if (!nodeOwner && n.callFrame.url.startsWith('node:')) nodeOwner = n.callFrame;
    const key = fnKey(n.callFrame);
    if (n.callFrame.functionName !== '(root)' && !seen.has(key)) {
      seen.add(key);
      add(inclByFn, key, dt);
    }
  }
  add(byPlace, placeOf(owner ?? nodeOwner ?? leaf.callFrame), dt);
}

const pct = (v: number) => `${((100 * v) / busy).toFixed(1).padStart(5)}%`;
const ms = (v: number) => `${(v / 1000).toFixed(0).padStart(7)} ms`;
const print = (title: string, m: Map<string, number>, n: number) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, v] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    process.stdout.write(`${pct(v)} ${ms(v)}  ${k}\n`);
  }
};

/** What each package does on the path of one DynamoDB request. */
const ACTIVITY: [RegExp, string][] = [
  [
    /^(@smithy\/signature-v4|@smithy\/core\/checksum|@aws-sdk\/core\/httpAuthSchemes|@smithy\/core)$/,
    'SigV4 signing (hashes, canonical request; auth scheme middleware)',
  ],
  [
    /^(@smithy\/core\/(schema|protocols|serde)|@aws-sdk\/dynamodb-codec|@aws-sdk\/core\/protocols)$/,
    '(de)serialisation: schemas, JSON, AttributeValues',
  ],
  [/^@smithy\/core\/client$/, 'middleware stack built per request; logger filter over input and output'],
  [/^(@smithy\/core\/(endpoints|config)|@aws-sdk\/core\/account-id-endpoint)$/, 'endpoint resolution (parameters, cache)'],
  [/^@aws-sdk\/core\/client$/, 'user agent, host header, recursion detection, logger middleware'],
  [/^@smithy\/core\/retry$/, 'retry middleware (token, invocation id)'],
  [
    /^(@smithy\/node-http-handler|@smithy\/core\/transport|node: HTTP, socket, streams, events)$/,
    'HTTP client and socket I/O (node:http, request handler)',
  ],
  [/^(node: timers, nextTick, microtasks|\(V8 built-in\)|\(program\))$/, 'promises, timers, other V8/Node machinery'],
  [/^(@aws-sdk\/lib-dynamodb|@aws-sdk\/util-dynamodb)$/, 'document client marshalling'],
  [/^\(garbage collector\)$/, 'garbage collection (main thread part)'],
];
const byActivity = new Map<string, number>();
for (const [place, v] of byPlace)
  add(byActivity, ACTIVITY.find(([re]) => re.test(place))?.[1] ?? 'other (the benchmark itself, command objects, ...)', v);

process.stdout.write(`${file}\nbusy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms (main thread)\n`);
print('By package (built-ins and node: code charged to the nearest package that called them)', byPlace, top);
print(`Top ${top} functions by self time`, selfByFn, top);
print(`Top ${top} functions by inclusive synchronous time`, inclByFn, top);
print('By activity (the packages above, grouped)', byActivity, top);
