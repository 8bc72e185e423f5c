/**
 * The chat page in a real browser against a real stack: two instances sharing
 * Redis, alice on one and bob on the other, each in their own browser context.
 */
import t from 'tap';
import type { Page } from 'playwright-core';
import { startInstance, startTestStack, uniqueId } from '../helpers/test-stack.js';
import {
  BROWSER_FILE_TIMEOUT_MS,
  buildTestPage,
  chromiumMissing,
  launchBrowser,
  signIn,
  twoPeopleOnTwoInstances,
  watchPageProblems,
} from '../helpers/browser.js';

t.setTimeout(BROWSER_FILE_TIMEOUT_MS);

const onePixelPng = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

const chatButton = (page: Page, name: string) => page.locator('#chat-list .chat-item', { hasText: name });

t.test(
  'two people chat through the page: message, unread count, typing, seen, a picture, history after reload',
  { skip: chromiumMissing },
  async (t) => {
    // bob signs in once, so that he exists; he stays on the chat list.
    const scene = await twoPeopleOnTwoInstances(t, { timeoutMs: 30_000 });
    const { problems } = scene;
    const { username: alice, page: alicePage } = scene.alice;
    const { username: bob, page: bobPage } = scene.bob;

    // 2. alice starts a direct chat with bob and writes to him.
    await alicePage.getByLabel('Start a chat with').fill(bob);
    await alicePage.getByRole('button', { name: 'Start' }).click();
    await alicePage.getByRole('heading', { name: bob }).waitFor();
    const composer = alicePage.getByLabel('Message', { exact: true });
    await composer.fill('Hello bob, lunch at noon?');
    await composer.press('Enter');
    const aliceLog = alicePage.getByRole('log', { name: 'Messages' });
    await aliceLog.getByText('Hello bob, lunch at noon?').waitFor();
    t.equal(await composer.inputValue(), '', 'the composer empties after sending');

    // 3. bob, on the other instance, sees the new chat with one unread message and its preview.
    const bobsChat = chatButton(bobPage, alice);
    await bobsChat.locator('.badge', { hasText: '1' }).waitFor();
    t.match(await bobsChat.textContent(), /Hello bob, lunch at noon\?/, 'the preview shows the message');
    t.match(await bobPage.title(), /^\(1\) huddle/, 'the tab title counts unread messages');

    // 4. bob opens it: the message is there with alice's name, and the unread count goes.
    await bobsChat.click();
    const bobLog = bobPage.getByRole('log', { name: 'Messages' });
    const received = bobLog.locator('.message', { hasText: 'Hello bob, lunch at noon?' });
    await received.waitFor();
    t.equal((await received.locator('.author').textContent())?.trim(), alice);
    await bobsChat.locator('.badge').waitFor({ state: 'detached' });

    // 5. alice sees that bob has read it, on the message itself.
    await aliceLog.locator('.message', { hasText: 'Hello bob, lunch at noon?' }).locator('.status', { hasText: 'Read' }).waitFor();

    // 6. alice types: bob sees it; bob answers.
    await composer.fill('Actually');
    await bobPage.getByText(`${alice} is typing…`).waitFor();
    const bobComposer = bobPage.getByLabel('Message', { exact: true });
    await bobComposer.fill('Noon works');
    await bobComposer.press('Enter');
    await aliceLog.getByText('Noon works').waitFor();
    t.equal((await aliceLog.locator('.message', { hasText: 'Noon works' }).locator('.author').textContent())?.trim(), bob);

    // 7. alice shares a picture: it goes to the file store and bob sees it in the conversation.
    await alicePage.locator('#file-input').setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: onePixelPng });
    const picture = bobLog.getByRole('img', { name: 'dot.png' });
    await picture.waitFor();
    await bobPage.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('#message-list img.preview-image');
      return img !== null && img.complete && img.naturalWidth === 1;
    });
    t.pass('bob sees the picture, loaded from the file store');

    // 8. a file type the service refuses is reported, and nothing is sent.
    await alicePage
      .locator('#file-input')
      .setInputFiles({ name: 'tool.exe', mimeType: 'application/x-msdownload', buffer: Buffer.from('MZ') });
    await aliceLog
      .locator('.message.status-failed', { hasText: 'tool.exe' })
      .getByText('Not sent: Files of type application/x-msdownload are not accepted.')
      .waitFor();

    // 9. alice reloads: the conversation comes back from history (the refused file was never sent), and bob shows online.
    await alicePage.reload();
    await alicePage.getByText('Connected', { exact: true }).waitFor();
    await aliceLog.getByText('Hello bob, lunch at noon?').waitFor();
    await aliceLog.getByText('Noon works').waitFor();
    await aliceLog.getByRole('img', { name: 'dot.png' }).waitFor();
    const order = await aliceLog.locator('.message .text').allTextContents();
    t.same(order, ['Hello bob, lunch at noon?', 'Noon works'], 'history in order, once each');
    await chatButton(alicePage, bob).locator('.presence[data-online="true"]').waitFor();

    t.same(problems.flat(), [], 'no page errors and no content-security-policy violations');
  },
);

t.test('a page that loses its connection catches up and sends what was written meanwhile', { skip: chromiumMissing }, async (t) => {
  const scene = await twoPeopleOnTwoInstances(t, { timeoutMs: 30_000 });
  const { first, problems } = scene;
  const { username: alice, page: alicePage, context: aliceContext } = scene.alice;
  const { username: bob, page: bobPage } = scene.bob;
  await alicePage.getByLabel('Start a chat with').fill(bob);
  await alicePage.getByRole('button', { name: 'Start' }).click();
  const aliceComposer = alicePage.getByLabel('Message', { exact: true });
  await aliceComposer.fill('before');
  await aliceComposer.press('Enter');
  await chatButton(bobPage, alice).click();
  const bobLog = bobPage.getByRole('log', { name: 'Messages' });
  await bobLog.getByText('before').waitFor();

  // 1. alice's network goes, and the server drops her socket as it does a slow consumer's.
  await aliceContext.setOffline(true);
  for (const connection of first.app.hub.connections()) if (connection.user.username === alice) connection.close('slowConsumer');
  await alicePage.locator('#connection[data-state="offline"]').waitFor();

  // 2. alice writes while offline; bob writes too.
  await aliceComposer.fill('written offline');
  await aliceComposer.press('Enter');
  const aliceLog = alicePage.getByRole('log', { name: 'Messages' });
  await aliceLog.locator('.message', { hasText: 'written offline' }).getByText('Waiting for the connection…').waitFor();
  const bobComposer = bobPage.getByLabel('Message', { exact: true });
  await bobComposer.fill('while you were away');
  await bobComposer.press('Enter');
  await bobLog.getByText('while you were away').waitFor();

  // 3. the network returns: alice's page reconnects, catches up and sends her message, once.
  await aliceContext.setOffline(false);
  await alicePage.getByText('Connected', { exact: true }).waitFor();
  await aliceLog.getByText('while you were away').waitFor();
  await aliceLog.locator('.message.status-delivered', { hasText: 'written offline' }).waitFor();
  await bobLog.getByText('written offline').waitFor();
  const expected = ['before', 'while you were away', 'written offline'];
  t.same(await aliceLog.locator('.message .text').allTextContents(), expected, 'alice sees every message once, in order');
  t.same(await bobLog.locator('.message .text').allTextContents(), expected, 'bob too');
  t.same(problems.flat(), [], 'no page errors and no content-security-policy violations');
});

t.test('a group: created with a member, another added and removed, one leaves; signing out', { skip: chromiumMissing }, async (t) => {
  const stack = await startTestStack(t);
  const instance = await startInstance(t, stack, {}, { pageDir: await buildTestPage(t) });
  const browser = await launchBrowser(t);
  const [alice, bob, carol] = ['alice', 'bob', 'carol'].map((name) => `${name}${uniqueId('')}`.slice(0, 24)) as [string, string, string];
  const newPage = async () => (await browser.newContext()).newPage();
  const [alicePage, bobPage, carolPage] = [await newPage(), await newPage(), await newPage()];
  const problems = [alicePage, bobPage, carolPage].map(watchPageProblems);
  for (const [page, name] of [
    [bobPage, bob],
    [carolPage, carol],
    [alicePage, alice],
  ] as const)
    await signIn(page, instance.baseUrl, name);

  // 1. alice creates "Launch plan" with bob; both see it, and bob sees her first message.
  await alicePage.getByText('New group').click();
  await alicePage.getByLabel('Title').fill('Launch plan');
  await alicePage.getByLabel(/^Members/).fill(bob);
  await alicePage.getByRole('button', { name: 'Create group' }).click();
  await alicePage.getByRole('heading', { name: 'Launch plan' }).waitFor();
  const composer = alicePage.getByLabel('Message', { exact: true });
  await composer.fill('Kick-off on Monday');
  await composer.press('Enter');
  await chatButton(bobPage, 'Launch plan').click();
  await bobPage.getByRole('log', { name: 'Messages' }).getByText('Kick-off on Monday').waitFor();
  await alicePage
    .getByRole('log', { name: 'Messages' })
    .locator('.message', { hasText: 'Kick-off on Monday' })
    .locator('.status', { hasText: 'Read by 1' })
    .waitFor();

  // 2. alice adds carol from the members panel: carol gets the chat.
  await alicePage.getByText('Members', { exact: true }).click();
  await alicePage.getByLabel('Add someone').fill(carol);
  await alicePage.getByRole('button', { name: 'Add', exact: true }).click();
  await alicePage.locator('#member-list', { hasText: carol }).waitFor();
  await chatButton(carolPage, 'Launch plan').waitFor();

  // 3. alice removes carol: the chat leaves carol's list.
  alicePage.once('dialog', (dialog) => dialog.accept());
  await alicePage.getByRole('button', { name: `Remove ${carol}` }).click();
  await alicePage.locator('#member-list', { hasText: carol }).waitFor({ state: 'detached' });
  await chatButton(carolPage, 'Launch plan').waitFor({ state: 'detached' });

  // 4. bob leaves: his page closes the chat, and alice's member list shrinks to herself.
  await bobPage.getByText('Members', { exact: true }).click();
  bobPage.once('dialog', (dialog) => dialog.accept());
  await bobPage.getByRole('button', { name: 'Leave this group' }).click();
  await chatButton(bobPage, 'Launch plan').waitFor({ state: 'detached' });
  await bobPage.getByText('Pick a chat, or start one.').waitFor();
  await alicePage.locator('#member-list li', { hasText: bob }).waitFor({ state: 'detached' });
  t.same(await alicePage.locator('#member-list li').allTextContents(), [`(online)${alice} (you)`]);

  // 5. alice signs out: through the provider's sign-out and back to the sign-in screen.
  await alicePage.getByRole('button', { name: 'Sign out' }).click();
  await alicePage.getByRole('link', { name: 'Sign in' }).waitFor();
  t.equal(new URL(alicePage.url()).origin, instance.baseUrl, 'back on the page after signing out');
  t.same(problems.flat(), [], 'no page errors and no content-security-policy violations');
});
