/**
 * Files end to end, as the page does it: signed in over real HTTP, the upload grant
 * from the route, the bytes PUT to the S3 emulator, the file message sent over a
 * real WebSocket on one instance and received on another, the download URL from
 * the route and the bytes fetched back.
 */
import t from 'tap';
import { startTestStack, startInstance, uniqueId, type TestInstance } from '../helpers/test-stack.js';
import { api, person, type Person } from '../helpers/people.js';
import { connectReady, type ChatClient } from '../helpers/ws-client.js';
import { chatNotFound } from '../../src/model/errors.js';

const FILE_MAX_BYTES = 8 * 1024;
const FREE_STORAGE_BYTES = 10 * 1024;
const env = { FILE_MAX_BYTES: String(FILE_MAX_BYTES), FREE_STORAGE_BYTES: String(FREE_STORAGE_BYTES) };

const stack = await startTestStack(t);
const a = await startInstance(t, stack, env);
const b = await startInstance(t, stack, env);

interface UploadGrant {
  fileKey: string;
  upload: { method: 'PUT'; url: string; headers: Record<string, string> };
  expiresAt: number;
}

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

async function group(owner: Person, members: Person[]): Promise<string> {
  const res = await api<{ chat: { chatId: string } }>(a, owner, 'POST', '/chats/group', {
    title: 'files',
    members: members.map((m) => m.username),
  });
  if (res.status !== 201) throw new Error(`group: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.chat.chatId;
}

async function online(instance: TestInstance, who: Person): Promise<ChatClient> {
  const { client } = await connectReady(instance.wsUrl, who.cookie);
  t.teardown(() => client.close());
  return client;
}

function bytes(size: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length: size }, (_, i) => (i * 17 + 3) % 256);
}

async function upload(who: Person, chatId: string, name: string, type: string, content: Uint8Array<ArrayBuffer>): Promise<string> {
  const grant = await api<UploadGrant>(a, who, 'POST', `/chats/${chatId}/files`, { name, type, size: content.length });
  if (grant.status !== 200) throw new Error(`upload grant: ${grant.status} ${JSON.stringify(grant.body)}`);
  const put = await fetch(grant.body.upload.url, { method: 'PUT', headers: grant.body.upload.headers, body: content });
  if (!put.ok) throw new Error(`PUT: ${put.status}`);
  return grant.body.fileKey;
}

let counter = 0;
const nextId = () => `f${++counter}${Date.now().toString(36)}`;

t.test('a picture goes up, out to the other instance as a message, and down again', async (t) => {
  const ann = await person(a, 'ann');
  const bob = await person(b, 'bob');
  const chatId = await group(ann, [bob]);
  const annSocket = await online(a, ann);
  const bobSocket = await online(b, bob);
  const content = bytes(3000);

  // 1. The grant, over HTTP.
  const grant = await api<UploadGrant>(a, ann, 'POST', `/chats/${chatId}/files`, {
    name: 'Ünïcödé photo.png',
    type: 'image/png',
    size: content.length,
  });
  t.equal(grant.status, 200);
  t.match(grant.body, { fileKey: new RegExp(`^pending/${chatId}/${ann.userId}/`), upload: { method: 'PUT' } });
  const put = await fetch(grant.body.upload.url, { method: 'PUT', headers: grant.body.upload.headers, body: content });
  t.equal(put.status, 200, 'the browser uploads straight to S3');

  // 2. The file message, over the socket.
  const clientMsgId = nextId();
  annSocket.send({ type: 'send', chatId, clientMsgId, fileKey: grant.body.fileKey });
  const ack = await annSocket.next('ack', (f) => f.clientMsgId === clientMsgId);
  t.equal(ack.duplicate, false);
  const delivered = await bobSocket.next('message', (f) => f.message.chatId === chatId);
  const file = delivered.message.file;
  t.equal(delivered.message.kind, 'file');
  t.same(file, {
    key: grant.body.fileKey.replace(/^pending\//, 'files/'),
    name: 'Ünïcödé photo.png',
    size: 3000,
    contentType: 'image/png',
  });
  const quota = await annSocket.next('quota', (f) => f.quota.storageBytes === 3000);
  t.equal(quota.quota.storageLimitBytes, FREE_STORAGE_BYTES, "the sender's socket hears the new storage use");

  // 3. Bob downloads it through the other instance.
  const download = await api<{ url: string; expiresAt: number }>(
    b,
    bob,
    'GET',
    `/chats/${chatId}/files/download?key=${encodeURIComponent(file!.key)}`,
  );
  t.equal(download.status, 200);
  const res = await fetch(download.body.url);
  t.equal(res.status, 200);
  t.same(new Uint8Array(await res.arrayBuffer()), content);
  t.equal(
    res.headers.get('content-disposition'),
    'attachment; filename="_n_c_d_ photo.png"; filename*=UTF-8\'\'%C3%9Cn%C3%AFc%C3%B6d%C3%A9%20photo.png',
  );
  t.equal(res.headers.get('content-type'), 'image/png', 'the page can preview it through the same URL');

  // 4. History holds it too.
  const history = await api<{ messages: { file?: unknown }[] }>(a, bob, 'GET', `/chats/${chatId}/messages`);
  t.same(
    history.body.messages.map((m) => m.file),
    [file],
  );
});

t.test('the upload route refuses with clear errors', async (t) => {
  const ann = await person(a, 'ann');
  const eve = await person(a, 'eve');
  const chatId = await group(ann, []);
  const grant = (who: Person | undefined, body: unknown, chat = chatId) => api<ErrorBody>(a, who, 'POST', `/chats/${chat}/files`, body);

  const noSession = await grant(undefined, { name: 'a.txt', type: 'text/plain', size: 10 });
  t.equal(noSession.status, 401, 'not signed in');

  const big = await grant(ann, { name: 'big.pdf', type: 'application/pdf', size: FILE_MAX_BYTES + 1 });
  t.equal(big.status, 413);
  t.match(big.body.error, { code: 'too_large', message: /at most 8 KB/, details: { limit: FILE_MAX_BYTES } });

  const html = await grant(ann, { name: 'page.html', type: 'text/html', size: 10 });
  t.equal(html.status, 400);
  t.match(html.body.error, { code: 'invalid', message: /"text\/html" cannot be shared/ });

  const notMember = await grant(eve, { name: 'a.txt', type: 'text/plain', size: 10 });
  const noChat = await grant(eve, { name: 'a.txt', type: 'text/plain', size: 10 }, `g-${uniqueId()}`);
  t.equal(notMember.status, 404);
  t.same(notMember.body, noChat.body, 'a non-member cannot tell the chat exists');
  t.equal(notMember.body.error.message, chatNotFound().message);

  const missingSize = await grant(ann, { name: 'a.txt', type: 'text/plain' });
  t.equal(missingSize.status, 400);
  t.equal(missingSize.body.error.code, 'invalid');
  const badChatId = await grant(ann, { name: 'a.txt', type: 'text/plain', size: 10 }, 'no%20such');
  t.equal(badChatId.status, 400);
});

t.test('storage: uploads hold nothing; the send that does not fit is refused and stores nothing', async (t) => {
  const ann = await person(a, 'ann');
  const chatId = await group(ann, []);
  const socket = await online(a, ann);
  const first = await upload(ann, chatId, 'a.txt', 'text/plain', bytes(6 * 1024));
  const second = await upload(ann, chatId, 'b.txt', 'text/plain', bytes(6 * 1024));
  const usage = (who: Person) => a.services.quotas.summary(who.userId);
  t.equal((await usage(ann)).storageBytes, 0, 'two uploads, nothing held');

  const firstId = nextId();
  socket.send({ type: 'send', chatId, clientMsgId: firstId, fileKey: first });
  await socket.next('ack', (f) => f.clientMsgId === firstId);

  const secondId = nextId();
  socket.send({ type: 'send', id: 'req-2', chatId, clientMsgId: secondId, fileKey: second });
  const refused = await socket.next('error', (f) => f.id === 'req-2');
  t.match(refused, {
    code: 'quota_exceeded',
    frame: 'send',
    details: { limit: FREE_STORAGE_BYTES, used: 6 * 1024, requested: 6 * 1024, tier: 'free' },
  });

  t.match(await usage(ann), { storageBytes: 6 * 1024, messagesToday: 1 }, 'the refused send took neither storage nor a message');
  const history = await api<{ messages: unknown[] }>(a, ann, 'GET', `/chats/${chatId}/messages`);
  t.equal(history.body.messages.length, 1);

  const grant = await api<ErrorBody>(a, ann, 'POST', `/chats/${chatId}/files`, { name: 'c.txt', type: 'text/plain', size: 6 * 1024 });
  t.equal(grant.status, 429, 'and a new upload that cannot fit is refused up front');
  t.equal(grant.body.error.code, 'quota_exceeded');
});

t.test('a file message takes only your own, uploaded file', async (t) => {
  const ann = await person(a, 'ann');
  const bob = await person(a, 'bob');
  const chatId = await group(ann, [bob]);
  const bobSocket = await online(a, bob);
  const annsUpload = await upload(ann, chatId, 'a.pdf', 'application/pdf', bytes(100));

  bobSocket.send({ type: 'send', id: 'steal', chatId, clientMsgId: nextId(), fileKey: annsUpload });
  t.match(await bobSocket.next('error', (f) => f.id === 'steal'), { code: 'invalid', message: /not one of your uploads/ });

  const neverUploaded = annsUpload.replace(`/${ann.userId}/`, `/${bob.userId}/`);
  bobSocket.send({ type: 'send', id: 'ghost', chatId, clientMsgId: nextId(), fileKey: neverUploaded });
  t.match(await bobSocket.next('error', (f) => f.id === 'ghost'), { code: 'not_found', message: /upload the file again/ });

  const history = await api<{ messages: unknown[] }>(a, bob, 'GET', `/chats/${chatId}/messages`);
  t.equal(history.body.messages.length, 0, 'nothing was stored');
  t.equal((await a.services.quotas.summary(bob.userId)).messagesToday, 0, 'and nothing counted');
});

t.test('download URLs only for current members of the chat the file is in', async (t) => {
  const ann = await person(a, 'ann');
  const bob = await person(a, 'bob');
  const eve = await person(a, 'eve');
  const chatId = await group(ann, [bob]);
  const evesChat = await group(eve, []);
  const annSocket = await online(a, ann);
  const key = await upload(ann, chatId, 'a.txt', 'text/plain', bytes(50));
  const clientMsgId = nextId();
  annSocket.send({ type: 'send', chatId, clientMsgId, fileKey: key });
  await annSocket.next('ack', (f) => f.clientMsgId === clientMsgId);
  const fileKey = key.replace(/^pending\//, 'files/');
  const download = (who: Person, chat: string, k = fileKey) =>
    api<ErrorBody & { url?: string }>(a, who, 'GET', `/chats/${chat}/files/download?key=${encodeURIComponent(k)}`);

  t.equal((await download(bob, chatId)).status, 200);
  const outsider = await download(eve, chatId);
  t.equal(outsider.status, 404);
  t.equal(outsider.body.error.message, chatNotFound().message, 'a non-member gets no download URL');
  t.equal((await download(eve, evesChat)).status, 404, 'nor through a chat of her own');

  const removed = await api(a, ann, 'DELETE', `/chats/${chatId}/members/${bob.userId}`);
  t.equal(removed.status, 200);
  t.equal((await download(bob, chatId)).status, 404, 'a member who left the chat gets none any more');

  const noKey = await api<ErrorBody>(a, ann, 'GET', `/chats/${chatId}/files/download`);
  t.equal(noKey.status, 400);
  t.equal((await download(ann, chatId, key)).status, 404, 'an unsent upload is not downloadable');
});
