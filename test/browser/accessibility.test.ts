/**
 * axe-core on each main view of the page, in light and in dark: the sign-in screen, the
 * local provider's sign-in form, the chat list, a direct chat (with a picture, a refused file and an upload in progress),
 * a group chat, and the dialogs and panels (new group, members, the picture viewer).
 * No serious or critical finding is accepted.
 */
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { startInstance, startTestStack, uniqueId } from '../helpers/test-stack.js';
import {
  BROWSER_FILE_TIMEOUT_MS,
  accessibilityProblems,
  buildTestPage,
  chromiumMissing,
  launchBrowser,
  signIn,
  watchPageProblems,
} from '../helpers/browser.js';

t.setTimeout(BROWSER_FILE_TIMEOUT_MS);

const onePixelPng = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/** axe in light and in dark, one assertion per scheme, named after the view. */
async function checkBothSchemes(t: Test, page: Page, view: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    t.same(await accessibilityProblems(page), [], `axe: ${view}, ${colorScheme}`);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

t.test('each main view passes axe-core in light and dark', { skip: chromiumMissing }, async (t) => {
  const stack = await startTestStack(t);
  const instance = await startInstance(t, stack, {}, { pageDir: await buildTestPage(t) });
  const browser = await launchBrowser(t);
  const [alice, bob] = ['alice', 'bob'].map((name) => `${name}${uniqueId('')}`.slice(0, 24)) as [string, string];
  const alicePage = await (await browser.newContext({ viewport: { width: 1100, height: 750 } })).newPage();
  const bobPage = await (await browser.newContext()).newPage();
  const problems = [alicePage, bobPage].map(watchPageProblems);
  alicePage.setDefaultTimeout(20_000);

  // The signed-out screen, before anyone signs in.
  await alicePage.goto(instance.baseUrl);
  await alicePage.getByRole('link', { name: 'Sign in' }).waitFor();
  await checkBothSchemes(t, alicePage, 'the sign-in screen');

  // The local provider's sign-in form: styled by its own stylesheet (its policy allows no inline style).
  await alicePage.getByRole('link', { name: 'Sign in' }).click();
  const signInButton = alicePage.getByRole('button', { name: 'Sign in' });
  await signInButton.waitFor();
  t.equal(
    await signInButton.evaluate((button) => getComputedStyle(button).backgroundColor),
    'rgb(47, 95, 208)',
    "the provider's form wears the page's accent colour",
  );
  await checkBothSchemes(t, alicePage, "the local provider's sign-in form");
  await alicePage.getByLabel('Username').fill(alice);
  await signInButton.click();
  await alicePage.getByText('Connected', { exact: true }).waitFor();

  await signIn(bobPage, instance.baseUrl, bob);
  await checkBothSchemes(t, alicePage, 'the chat list, empty');

  // A direct chat with text, a picture, a refused file and an upload under way.
  await alicePage.getByLabel('Start a chat with').fill(bob);
  await alicePage.getByRole('button', { name: 'Start' }).click();
  const log = alicePage.getByRole('log', { name: 'Messages' });
  const composer = alicePage.getByLabel('Message', { exact: true });
  await composer.fill('Hello, see https://example.com');
  await composer.press('Enter');
  const fileInput = alicePage.locator('#file-input');
  await fileInput.setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: onePixelPng });
  await log.getByRole('img', { name: 'dot.png' }).waitFor();
  await fileInput.setInputFiles({ name: 'tool.exe', mimeType: 'application/x-msdownload', buffer: Buffer.from('MZ') });
  await log.locator('.message.status-failed', { hasText: 'tool.exe' }).waitFor();
  await checkBothSchemes(t, alicePage, 'a direct chat with a picture and a refused file');

  // The picture viewer, a modal dialog.
  await log.getByRole('img', { name: 'dot.png' }).click();
  await alicePage.getByRole('dialog', { name: 'dot.png' }).waitFor();
  await checkBothSchemes(t, alicePage, 'the picture viewer');
  await alicePage.keyboard.press('Escape');

  // The new-group form, then a group chat with its members panel open.
  await alicePage.getByText('New group').click();
  await alicePage.getByLabel('Title').waitFor();
  await checkBothSchemes(t, alicePage, 'the new-group form');
  await alicePage.getByLabel('Title').fill('Launch plan');
  await alicePage.getByLabel(/^Members/).fill(bob);
  await alicePage.getByRole('button', { name: 'Create group' }).click();
  await alicePage.getByRole('heading', { name: 'Launch plan' }).waitFor();
  await composer.fill('Kick-off on Monday');
  await composer.press('Enter');
  await log.locator('.message.status-delivered', { hasText: 'Kick-off on Monday' }).waitFor();
  await checkBothSchemes(t, alicePage, 'a group chat');
  await alicePage.getByText('Members', { exact: true }).click();
  await alicePage.getByLabel('Add someone').waitFor();
  await checkBothSchemes(t, alicePage, 'the members panel');

  // The chat list with both chats, on a phone-sized screen where it is the only pane.
  await alicePage.setViewportSize({ width: 390, height: 780 });
  await alicePage.getByRole('button', { name: 'Back to chats' }).click();
  await alicePage.locator('#chat-list .chat-item').nth(1).waitFor();
  await checkBothSchemes(t, alicePage, 'the chat list on a narrow screen');
  t.same(problems.flat(), [], 'no page errors and no content-security-policy violations');
});
