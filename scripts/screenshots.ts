/**
 * npm run screenshots: the page's main views as PNG files in docs/screenshots/, taken
 * in the system's Chromium against a throwaway stack (DynamoDB Local in memory, a
 * throwaway redis-server or REDIS_URL, the S3 emulator, the local sign-in) and one
 * instance: the sign-in screen, the local provider's sign-in form, a conversation in
 * light and dark, and the same conversation at phone width. Run it after changing how the page looks.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { startLoadStack } from './load/stack.js';
import { startInstance, startTestStack } from '../test/helpers/test-stack.js';
import { buildTestPage, chromiumMissing, launchBrowser, signIn } from '../test/helpers/browser.js';

const outDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/screenshots');

/** Collects clean-ups as the test helpers expect, and runs them last first. */
function teardowns() {
  const closers: (() => unknown)[] = [];
  return {
    teardown: (fn: () => unknown) => void closers.push(fn),
    async run() {
      for (const close of closers.reverse()) await Promise.resolve(close()).catch(() => {});
    },
  };
}

async function newPage(browser: Browser, viewport: { width: number; height: number }, colorScheme: 'light' | 'dark' = 'light') {
  const context = await browser.newContext({ viewport, colorScheme, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return page;
}

async function send(page: Page, text: string) {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.keyboard.press('Enter');
  await page.getByRole('log', { name: 'Messages' }).locator('.message', { hasText: text }).last().waitFor();
}

async function main() {
  if (chromiumMissing) throw new Error(chromiumMissing);
  const shared = await startLoadStack({ redisUrl: process.env.REDIS_URL });
  const cleanup = teardowns();
  try {
    process.env.DYNAMODB_ENDPOINT = shared.dynamodb.url;
    process.env.REDIS_URL = shared.redis.url;
    const stack = await startTestStack(cleanup);
    const pageDir = await buildTestPage(cleanup);
    const instance = await startInstance(cleanup, stack, {}, { pageDir });
    const browser = await launchBrowser(cleanup);
    const desktop = { width: 1200, height: 760 };

    const signedOut = await newPage(browser, desktop);
    await signedOut.goto(instance.baseUrl);
    await signedOut.getByRole('link', { name: 'Sign in' }).waitFor();
    await signedOut.screenshot({ path: path.join(outDir, 'sign-in.png') });
    await signedOut.getByRole('link', { name: 'Sign in' }).click();
    await signedOut.getByLabel('Username').waitFor();
    await signedOut.screenshot({ path: path.join(outDir, 'sign-in-provider.png') });

    const [alice, bob] = await Promise.all([newPage(browser, desktop), newPage(browser, desktop)]);
    await signIn(bob, instance.baseUrl, 'bob');
    await signIn(alice, instance.baseUrl, 'alice');
    await alice.getByLabel('Start a chat with').fill('bob');
    await alice.keyboard.press('Enter');
    await alice.getByRole('heading', { name: 'bob' }).waitFor();
    await send(alice, 'Lunch at 12:30? The place on the corner.');
    await bob.locator('#chat-list .chat-item', { hasText: 'alice' }).click();
    await send(bob, 'Sounds good, see you there');
    await send(bob, 'Menu: https://example.com/menu');
    await send(alice, 'Perfect, see you then');
    await bob.getByRole('log', { name: 'Messages' }).getByText('Perfect, see you then').waitFor();
    await alice.screenshot({ path: path.join(outDir, 'conversation-light.png') });

    await alice.emulateMedia({ colorScheme: 'dark' });
    await alice.screenshot({ path: path.join(outDir, 'conversation-dark.png') });

    const phone = await newPage(browser, { width: 390, height: 780 });
    await signIn(phone, instance.baseUrl, 'bob');
    await phone.locator('#chat-list .chat-item', { hasText: 'alice' }).click();
    await phone.getByRole('log', { name: 'Messages' }).getByText('Perfect, see you then').waitFor();
    await phone.screenshot({ path: path.join(outDir, 'conversation-phone.png') });
    process.stdout.write(`screenshots written to ${path.relative(process.cwd(), outDir)}/\n`);
  } finally {
    await cleanup.run();
    await shared.close();
  }
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
