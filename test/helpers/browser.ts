/**
 * A real Chromium for page tests, through playwright-core (no bundled browsers):
 * the system's `chromium` binary, headless, with everything that would reach the
 * network on its own switched off. Each launch gets a fresh profile.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startInstance, startTestStack, uniqueId, type Teardown, type TestInstance, type TestStack } from './test-stack.js';
import { buildPage } from '../../scripts/build-page.js';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why browser tests cannot run here, or false when they can (pass as tap's `skip`). */
export const chromiumMissing: string | false = existsSync(chromiumPath)
  ? false
  : `Chromium is missing (no ${chromiumPath}); install it (apt-get install chromium) to run the browser tests`;

/**
 * How long one browser test file may take (tap's `timeout` of 120 s is for the others).
 * A file drives two or three Chromium pages through several scenes; on a loaded CI
 * machine, with other files' instances and browsers on the same cores, one took 120 s
 * where it takes 35 s on a quiet one.
 */
export const BROWSER_FILE_TIMEOUT_MS = 360_000;

const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launchBrowser(t: Teardown): Promise<Browser> {
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
  t.teardown(() => browser.close());
  return browser;
}

/** Collects what would otherwise vanish: uncaught page errors and CSP violations, for assertions. */
export function watchPageProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(text)) problems.push(`console: ${text}`);
  });
  return problems;
}

/**
 * Signs in through the page as a user would: the page's "Sign in" link, the local
 * provider's username form, and back to the app, which then shows the chat screen.
 */
export async function signIn(page: Page, baseUrl: string, username: string): Promise<void> {
  await page.goto(baseUrl);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Username').fill(username);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.origin === new URL(baseUrl).origin);
  await page.getByText('Connected', { exact: true }).waitFor();
}

/** Bundles the page (as `npm run build` does) into a temporary folder for this test's instances. */
export async function buildTestPage(t: Teardown): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'huddle-page-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await buildPage(dir);
  return dir;
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeResults {
  violations: { id: string; impact: string | null; nodes: { target: string[] }[] }[];
}

/** axe-core's serious and critical findings on the page as it is now, as "rule: target" lines. */
export async function accessibilityProblems(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's script policy does not govern.
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: object): Promise<AxeResults> } }).axe;
    const results = await axe.run(document, { resultTypes: ['violations'] });
    return results.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`));
  });
}

export interface PersonInBrowser {
  username: string;
  context: BrowserContext;
  page: Page;
}

export interface TwoPeopleInBrowsers {
  stack: TestStack;
  /** Where the instances' page was built, for an instance started later. */
  pageDir: string;
  /** alice's instance. */
  first: TestInstance;
  /** bob's instance: whatever one sends reaches the other across instances. */
  second: TestInstance;
  alice: PersonInBrowser;
  bob: PersonInBrowser;
  /** Page errors and CSP violations of both pages, for a closing `t.same(problems.flat(), [])`. */
  problems: string[][];
}

/**
 * The scene most page tests start from: a stack, two instances serving a freshly built
 * page, and alice and bob signed in through the page in browsers of their own, alice on
 * the first instance and bob on the second.
 */
export async function twoPeopleOnTwoInstances(
  t: Teardown,
  options: { env?: Record<string, string>; timeoutMs?: number; viewport?: { width: number; height: number } } = {},
): Promise<TwoPeopleInBrowsers> {
  const stack = await startTestStack(t);
  const pageDir = await buildTestPage(t);
  const first = await startInstance(t, stack, options.env ?? {}, { pageDir });
  const second = await startInstance(t, stack, options.env ?? {}, { pageDir });
  const browser = await launchBrowser(t);
  const open = async (label: string): Promise<PersonInBrowser> => {
    const context = await browser.newContext(options.viewport ? { viewport: options.viewport } : {});
    const page = await context.newPage();
    page.setDefaultTimeout(options.timeoutMs ?? 20_000);
    return { username: `${label}${uniqueId('')}`.slice(0, 24), context, page };
  };
  const alice = await open('alice');
  const bob = await open('bob');
  const problems = [alice.page, bob.page].map(watchPageProblems);
  await signIn(bob.page, second.baseUrl, bob.username);
  await signIn(alice.page, first.baseUrl, alice.username);
  return { stack, pageDir, first, second, alice, bob, problems };
}
