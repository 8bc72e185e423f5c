/**
 * The conversation as people read it, in a real browser against two instances:
 * grouping, day separators, safe links, the "new messages" line, jump to latest,
 * drafts across a reload, keyboard-only sending, and axe-core light and dark.
 */
import t from 'tap';
import type { Page } from 'playwright-core';
import { BROWSER_FILE_TIMEOUT_MS, accessibilityProblems, chromiumMissing, twoPeopleOnTwoInstances } from '../helpers/browser.js';

t.setTimeout(BROWSER_FILE_TIMEOUT_MS);

const chatButton = (page: Page, name: string) => page.locator('#chat-list .chat-item', { hasText: name });

t.test(
  'the timeline groups, separates days, links safely, keeps drafts, jumps to the latest and passes axe in light and dark',
  { skip: chromiumMissing },
  async (t) => {
    const scene = await twoPeopleOnTwoInstances(t, { timeoutMs: 15_000, viewport: { width: 1000, height: 700 } });
    const { problems } = scene;
    const { username: alice, page: alicePage } = scene.alice;
    const { username: bob, page: bobPage } = scene.bob;
    t.same(await accessibilityProblems(alicePage), [], 'axe: the chat list, light');

    // 1. keyboard only: alice starts a chat and sends with Enter, never touching the mouse.
    await alicePage.getByLabel('Start a chat with').focus();
    await alicePage.keyboard.type(bob);
    await alicePage.keyboard.press('Enter');
    await alicePage.getByRole('heading', { name: bob }).waitFor();
    t.equal(await alicePage.evaluate(() => document.activeElement?.id), 'composer-input', 'focus moves to the message box');
    await alicePage.keyboard.type('one');
    await alicePage.keyboard.press('Enter');
    await alicePage.keyboard.type('two, see https://example.com/docs. and javascript:alert(1)');
    await alicePage.keyboard.press('Enter');
    const aliceLog = alicePage.getByRole('log', { name: 'Messages' });
    await aliceLog.locator('.message.status-delivered', { hasText: 'two' }).waitFor();

    // 2. grouped: one heading for both, a day separator above; the link is a link, the javascript: text is not.
    t.equal(await aliceLog.locator('.message.group-start').count(), 1, 'two messages in a minute share one heading');
    t.same(await aliceLog.locator('.day-separator').allTextContents(), ['Today']);
    const links = aliceLog.locator('.message a');
    t.same(await links.evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).href)), ['https://example.com/docs']);
    t.match(await aliceLog.locator('.message', { hasText: 'two' }).locator('.text').textContent(), /javascript:alert\(1\)/);

    // 3. bob opens the chat: the "new messages" line sits above alice's first message.
    await chatButton(bobPage, alice).click();
    const bobLog = bobPage.getByRole('log', { name: 'Messages' });
    await bobLog.locator('.unread-line').waitFor();
    t.equal(await bobLog.locator('.unread-line + .message .text').textContent(), 'one');
    t.same(await accessibilityProblems(bobPage), [], 'axe: a conversation, light');

    // 4. bob scrolls up; alice writes a lot: bob's view stays, and "jump to latest" counts what came.
    for (let i = 0; i < 25; i++) {
      await alicePage.keyboard.type(`filler ${i}`);
      await alicePage.keyboard.press('Enter');
    }
    await bobLog.getByText('filler 24').waitFor();
    await bobPage.locator('#messages').evaluate((element) => (element.scrollTop = 0));
    await alicePage.keyboard.type('after you scrolled');
    await alicePage.keyboard.press('Enter');
    const jump = bobPage.getByRole('button', { name: /Jump to latest \(1 new\)/ });
    await jump.waitFor();
    t.equal(await bobPage.locator('#messages').evaluate((element) => element.scrollTop), 0, 'the view did not move');
    await jump.click();
    await jump.waitFor({ state: 'hidden' });

    // 5. a draft survives a reload.
    await alicePage.keyboard.type('half a thought');
    await alicePage.reload();
    await alicePage.getByText('Connected', { exact: true }).waitFor();
    await aliceLog.getByText('after you scrolled').waitFor();
    t.equal(await alicePage.getByLabel('Message', { exact: true }).inputValue(), 'half a thought');

    // 6. dark mode passes axe too.
    await bobPage.emulateMedia({ colorScheme: 'dark' });
    t.same(await accessibilityProblems(bobPage), [], 'axe: a conversation, dark');
    t.same(problems.flat(), [], 'no page errors and no content-security-policy violations');
  },
);
