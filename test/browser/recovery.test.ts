/**
 * What goes wrong, through the page in a real browser against two instances: a send
 * the server refuses (Retry, Discard), and the instance a page is connected to
 * stopped and started again in the middle of a conversation.
 */
import t from 'tap';
import type { Locator, Page } from 'playwright-core';
import { startInstance } from '../helpers/test-stack.js';
import { BROWSER_FILE_TIMEOUT_MS, chromiumMissing, twoPeopleOnTwoInstances } from '../helpers/browser.js';

t.setTimeout(BROWSER_FILE_TIMEOUT_MS);

const chatButton = (page: Page, name: string) => page.locator('#chat-list .chat-item', { hasText: name });
const texts = (log: Locator) => log.locator('.message .text').allTextContents();

async function say(page: Page, text: string): Promise<void> {
  const composer = page.getByLabel('Message', { exact: true });
  await composer.fill(text);
  await composer.press('Enter');
}

t.test('a refused send says why on the message; Retry sends it once, Discard removes it', { skip: chromiumMissing }, async (t) => {
  const scene = await twoPeopleOnTwoInstances(t, { env: { FREE_MESSAGES_PER_DAY: '3' } });
  const { first, problems } = scene;
  const { username: alice, page: alicePage } = scene.alice;
  const { username: bob, page: bobPage } = scene.bob;
  await alicePage.getByLabel('Start a chat with').fill(bob);
  await alicePage.getByRole('button', { name: 'Start' }).click();
  const aliceLog = alicePage.getByRole('log', { name: 'Messages' });
  const bobLog = bobPage.getByRole('log', { name: 'Messages' });

  // 1. alice uses her three messages of the day; the fourth and fifth are refused, on the messages themselves.
  for (const text of ['one', 'two', 'three']) await say(alicePage, text);
  await aliceLog.locator('.message.status-delivered', { hasText: 'three' }).waitFor();
  await say(alicePage, 'four');
  await say(alicePage, 'five');
  const four = aliceLog.locator('.message.status-failed', { hasText: 'four' });
  const five = aliceLog.locator('.message.status-failed', { hasText: 'five' });
  await four.waitFor();
  await five.waitFor();
  t.match(
    await four.locator('.status').textContent(),
    /^Not sent: Daily limit of 3 messages reached\. You can send again (at|on) .+\. Retry Discard$/,
    'the reason, with when the limit resets',
  );

  // 2. Discard: "five" goes, and never reaches bob.
  await five.getByRole('button', { name: 'Discard' }).click();
  await five.waitFor({ state: 'detached' });

  // 3. alice becomes premium; Retry sends "four", once.
  await first.services.quotas.setTier(alice, 'premium');
  await four.getByRole('button', { name: 'Retry' }).click();
  await aliceLog.locator('.message.status-delivered', { hasText: 'four' }).waitFor();
  await chatButton(bobPage, alice).click();
  await bobLog.getByText('four').waitFor();
  t.same(await texts(aliceLog), ['one', 'two', 'three', 'four'], 'alice: each message once, in order');
  t.same(await texts(bobLog), ['one', 'two', 'three', 'four'], 'bob: the retried message once, the discarded one never');

  // 4. what was stored: bob reloads and reads it from history.
  await bobPage.reload();
  await bobLog.getByText('four').waitFor();
  t.same(await texts(bobLog), ['one', 'two', 'three', 'four'], 'history holds the retried message once');
  t.same(problems.flat(), [], 'no page errors and no content-security-policy violations');
});

t.test(
  'the instance a page is connected to stops and starts again mid-conversation: the page reconnects and nothing is lost or doubled',
  { skip: chromiumMissing },
  async (t) => {
    const scene = await twoPeopleOnTwoInstances(t, { timeoutMs: 30_000 });
    const { stack, pageDir, first, problems } = scene;
    const { username: alice, page: alicePage } = scene.alice;
    const { username: bob, page: bobPage } = scene.bob;
    await alicePage.getByLabel('Start a chat with').fill(bob);
    await alicePage.getByRole('button', { name: 'Start' }).click();
    const aliceLog = alicePage.getByRole('log', { name: 'Messages' });
    const bobLog = bobPage.getByRole('log', { name: 'Messages' });
    await say(alicePage, 'before the restart');
    await chatButton(bobPage, alice).click();
    await bobLog.getByText('before the restart').waitFor();

    // 1. alice's instance stops (as in a deploy): her page says it is reconnecting.
    const port = Number(new URL(first.baseUrl).port);
    await first.close();
    await alicePage.locator('#connection[data-state="offline"]', { hasText: /Reconnecting/ }).waitFor();

    // 2. meanwhile bob writes, through his instance, and so does alice, into her outbox.
    for (const text of ['while it was down 1', 'while it was down 2']) await say(bobPage, text);
    await bobLog.locator('.message.status-delivered', { hasText: 'while it was down 2' }).waitFor();
    await say(alicePage, 'written while it was down');
    await aliceLog.locator('.message', { hasText: 'written while it was down' }).getByText('Waiting for the connection…').waitFor();

    // 3. the instance starts again at the same address: alice's page reconnects, syncs and sends.
    await startInstance(t, stack, {}, { pageDir, port });
    await alicePage.getByText('Connected', { exact: true }).waitFor();
    await aliceLog.locator('.message.status-delivered', { hasText: 'written while it was down' }).waitFor();
    await aliceLog.getByText('while it was down 2').waitFor();
    await bobLog.getByText('written while it was down').waitFor();
    const expected = ['before the restart', 'while it was down 1', 'while it was down 2', 'written while it was down'];
    t.same(await texts(aliceLog), expected, 'alice sees every message exactly once, in order');
    t.same(await texts(bobLog), expected, 'bob too');

    // 4. and after a reload, history agrees.
    await alicePage.reload();
    await aliceLog.getByText('written while it was down').waitFor();
    t.same(await texts(aliceLog), expected, 'history holds each message once');
    t.same(problems.flat(), [], 'no page errors and no content-security-policy violations');
  },
);
