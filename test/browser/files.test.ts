/**
 * Files through the page, in a real browser against two instances and the S3 emulator:
 * paste and drop, the picture thumbnail, refusals on the message they concern, and an
 * upload's progress and Cancel.
 */
import t from 'tap';
import type { Page } from 'playwright-core';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { createS3Client } from '../../src/adapters/s3/client.js';
import { type TestStack } from '../helpers/test-stack.js';
import { BROWSER_FILE_TIMEOUT_MS, chromiumMissing, twoPeopleOnTwoInstances } from '../helpers/browser.js';

t.setTimeout(BROWSER_FILE_TIMEOUT_MS);

const onePixelPng = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
const MIB = 1024 * 1024;
const fileMaxBytes = 2 * MIB;
const storageBytes = Math.floor(1.8 * MIB);

const chatButton = (page: Page, name: string) => page.locator('#chat-list .chat-item', { hasText: name });

interface FileSpec {
  name: string;
  type: string;
  base64: string;
}

/** A file pasted into the message box, as a browser delivers it from the clipboard. */
async function pasteFile(page: Page, file: FileSpec): Promise<void> {
  await page.getByLabel('Message', { exact: true }).evaluate((box, { name, type, base64 }) => {
    const data = new DataTransfer();
    data.items.add(new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], name, { type }));
    box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, file);
}

/** A file dragged from the desktop and dropped on the conversation. */
async function dropFile(page: Page, file: FileSpec): Promise<void> {
  await page.locator('#chat-view').evaluate((view, { name, type, base64 }) => {
    const data = new DataTransfer();
    data.items.add(new File([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], name, { type }));
    for (const kind of ['dragenter', 'dragover', 'drop'])
      view.dispatchEvent(new DragEvent(kind, { dataTransfer: data, bubbles: true, cancelable: true }));
  }, file);
}

/** Every object in the file store, as "key (size)". */
async function storedObjects(stack: TestStack, bucket: string, prefix: string): Promise<string[]> {
  const s3 = createS3Client({ region: 'us-east-1', endpoint: stack.s3Endpoint });
  try {
    const listing = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return (listing.Contents ?? []).map((object) => `${object.Key} (${object.Size} bytes)`);
  } finally {
    s3.destroy();
  }
}

t.test(
  'files: paste and drop send, a picture is a fixed thumbnail that opens full size, refusals land on their message, an upload shows progress and cancels',
  { skip: chromiumMissing },
  async (t) => {
    const scene = await twoPeopleOnTwoInstances(t, {
      env: { FILE_MAX_BYTES: String(fileMaxBytes), FREE_STORAGE_BYTES: String(storageBytes) },
    });
    const { stack, first, problems } = scene;
    const { username: alice, page: alicePage, context: aliceContext } = scene.alice;
    const { username: bob, page: bobPage } = scene.bob;
    await alicePage.getByLabel('Start a chat with').fill(bob);
    await alicePage.getByRole('button', { name: 'Start' }).click();
    await alicePage.getByRole('heading', { name: bob }).waitFor();
    const aliceLog = alicePage.getByRole('log', { name: 'Messages' });
    const bobLog = bobPage.getByRole('log', { name: 'Messages' });

    // 1. alice pastes a picture: bob sees a 4:3 thumbnail, whatever the picture's own shape, that opens full size.
    await pasteFile(alicePage, { name: 'pasted.png', type: 'image/png', base64: onePixelPng.toString('base64') });
    await chatButton(bobPage, alice).click();
    const thumbnail = bobLog.getByRole('img', { name: 'pasted.png' });
    await thumbnail.waitFor();
    await bobPage.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('#message-list img.preview-image');
      return img !== null && img.complete && img.naturalWidth === 1;
    });
    const box = await thumbnail.boundingBox();
    t.ok(box && box.width >= 200 && Math.abs(box.width / box.height - 4 / 3) < 0.02, 'a 1×1 picture still shows as a 4:3 thumbnail');
    await thumbnail.click();
    const viewer = bobPage.getByRole('dialog', { name: 'pasted.png' });
    await viewer.waitFor();
    await bobPage.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('#image-viewer-image');
      return img !== null && img.complete && img.naturalWidth === 1;
    });
    const fullBox = await viewer.getByRole('img', { name: 'pasted.png' }).boundingBox();
    t.same([fullBox?.width, fullBox?.height], [1, 1], 'a click shows the picture at its own size, uncropped');
    await bobPage.keyboard.press('Escape');
    await viewer.waitFor({ state: 'hidden' });
    t.equal(await bobPage.evaluate(() => document.activeElement?.className), 'thumbnail', 'Escape closes it, back on the thumbnail');

    // 2. alice drops a PDF on the conversation: bob gets it as a download.
    await dropFile(alicePage, { name: 'notes.pdf', type: 'application/pdf', base64: Buffer.from('%PDF-1.4 notes').toString('base64') });
    await bobLog.getByRole('link', { name: /Download notes\.pdf/ }).waitFor();
    await aliceLog.getByRole('link', { name: /Download notes\.pdf/ }).waitFor();
    await alicePage.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('#message-list img.preview-image');
      return img !== null && img.complete && img.naturalWidth === 1;
    });
    t.pass('alice sees her own picture and file too, from where the server stored them');

    // 3. refusals show on the message they concern, and send nothing.
    const fileInput = alicePage.locator('#file-input');
    const refusals: [string, { name: string; mimeType: string; buffer: Buffer }, RegExp][] = [
      [
        'a type the service refuses',
        { name: 'tool.exe', mimeType: 'application/x-msdownload', buffer: Buffer.from('MZ') },
        /Not sent: Files of type application\/x-msdownload are not accepted\./,
      ],
      [
        'a file over the size limit',
        { name: 'huge.pdf', mimeType: 'application/pdf', buffer: Buffer.alloc(3 * MIB, 1) },
        /Not sent: The file is 3 MB, more than the 2 MB allowed\./,
      ],
      [
        'a file over what is left of the storage quota (the server says)',
        { name: 'roomy.pdf', mimeType: 'application/pdf', buffer: Buffer.alloc(Math.floor(1.9 * MIB), 1) },
        /Not sent: This file \(1\.9 MB\) does not fit in your storage/,
      ],
    ];
    for (const [what, file, reason] of refusals) {
      await fileInput.setInputFiles(file);
      const message = aliceLog.locator('.message.status-failed', { hasText: file.name });
      await message.locator('.status', { hasText: reason }).waitFor();
      t.equal(await message.getByRole('button', { name: 'Retry' }).count(), 0, `${what}: no Retry, nothing could be sent again`);
      await message.getByRole('button', { name: 'Discard' }).click();
      await message.waitFor({ state: 'detached' });
      t.pass(`${what}: said on its message, then discarded`);
    }

    // 4. a large upload on a slow uplink shows its progress; Cancel stops it and nothing is sent or stored.
    const bucket = first.config.files.bucket;
    const storedBefore = await storedObjects(stack, bucket, 'files/');
    const quotaBefore = await alicePage.locator('#quota').textContent();
    const cdp = await aliceContext.newCDPSession(alicePage);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 0,
      downloadThroughput: -1,
      uploadThroughput: 128 * 1024,
    });
    await fileInput.setInputFiles({ name: 'slides.pdf', mimeType: 'application/pdf', buffer: Buffer.alloc(Math.floor(1.5 * MIB), 7) });
    const uploading = aliceLog.locator('.message.status-uploading', { hasText: 'slides.pdf' });
    await uploading.waitFor();
    await alicePage.waitForFunction(() => {
      const bar = document.querySelector<HTMLProgressElement>('.upload-progress progress');
      return bar !== null && bar.value > 0 && bar.value < 100;
    });
    const percent = await uploading.locator('progress').evaluate((bar) => (bar as HTMLProgressElement).value);
    t.comment(`progress shown before Cancel: ${percent} %`);
    t.match(await uploading.locator('.upload-percent').textContent(), /Uploading… \d+ %/);
    await uploading.getByRole('button', { name: 'Cancel' }).click();
    await uploading.waitFor({ state: 'detached' });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    t.same(await storedObjects(stack, bucket, 'files/'), storedBefore, 'no file of the cancelled upload is kept');
    t.equal(await alicePage.locator('#quota').textContent(), quotaBefore, "and none of alice's storage is taken");
    // What the emulator kept of the cut-off PUT (real S3 keeps nothing of an aborted PUT); pending/ expires after a day.
    t.comment(`pending/ after Cancel: ${(await storedObjects(stack, bucket, 'pending/')).join(', ') || 'nothing'}`);

    // Bob's conversation, after a message that follows, holds no trace of what was refused or cancelled.
    const composer = alicePage.getByLabel('Message', { exact: true });
    await composer.fill('that is all');
    await composer.press('Enter');
    await bobLog.getByText('that is all').waitFor();
    const bobSees = await bobLog.locator('.message').allTextContents();
    t.equal(bobSees.length, 3, 'bob has the picture, the PDF and the last message, nothing else');
    t.notOk(bobSees.join(' ').match(/tool\.exe|huge\.pdf|roomy\.pdf|slides\.pdf/), 'no refused or cancelled file reached bob');
    t.same(problems.flat(), [], 'no page errors and no content-security-policy violations');
  },
);
