/**
 * The files service against the S3 emulator and DynamoDB Local, with real chats
 * (membership comes from the chats service) and real quota counters. Uploads and
 * downloads go through the presigned URLs over real HTTP.
 *
 * The emulator checks no signature, so what S3 itself would refuse is shown by
 * re-signing requests with the SDK's own SigV4 signer (see the last tests).
 */
import t from 'tap';
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { createDynamoClient } from '../../src/adapters/dynamodb/client.js';
import { documentsOver } from '../../src/adapters/dynamodb/document.js';
import { tableNames } from '../../src/adapters/dynamodb/table.js';
import { createUsersRepository } from '../../src/adapters/dynamodb/users-repository.js';
import { createQuotasRepository } from '../../src/adapters/dynamodb/quotas-repository.js';
import { createChatsRepository } from '../../src/adapters/dynamodb/chats-repository.js';
import { createChatsService } from '../../src/domain/chats/chats-service.js';
import { createBusEventPublisher } from '../../src/transport/realtime/event-frames.js';
import { createMemoryBus } from '../../src/adapters/memory/memory-bus.js';
import { createQuotasService, type QuotasService } from '../../src/domain/quotas/quotas-service.js';
import { createFilesService, type FilesService } from '../../src/domain/files/files-service.js';
import { createPendingSweeper } from '../../src/domain/files/pending-sweeper.js';
import { createS3BlobStore } from '../../src/adapters/s3/s3-blob-store.js';
import type { BlobStore } from '../../src/domain/files/ports.js';
import { newFileToken } from '../../src/domain/files/file-policy.js';
import { AppError, chatNotFound } from '../../src/model/errors.js';
import { startTestStack, uniqueId, type Teardown, type TestStack } from '../helpers/test-stack.js';

const MAX_BYTES = 64 * 1024;
const FREE_STORAGE = 100 * 1024;
const policy = {
  maxBytes: MAX_BYTES,
  allowedTypes: ['image/png', 'image/jpeg', 'application/pdf', 'text/plain'],
  uploadTtlS: 300,
  downloadTtlS: 900,
};

interface Person {
  userId: string;
  username: string;
}

interface World {
  stack: TestStack;
  s3: S3Client;
  bucket: string;
  blob: BlobStore;
  files: FilesService;
  quotas: QuotasService;
  ann: Person;
  bob: Person;
  /** Signed in, but in no chat with Ann and Bob. */
  eve: Person;
  /** Ann's and Bob's group. */
  chatId: string;
  /** Eve's own group. */
  eveChatId: string;
}

function s3ClientFor(stack: TestStack): S3Client {
  // As plugins/aws.ts makes it for a local endpoint.
  return new S3Client({
    region: 'us-east-1',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    endpoint: stack.s3Endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
}

async function world(t: Teardown): Promise<World> {
  const stack = await startTestStack(t);
  const raw = createDynamoClient({ region: 'us-east-1', endpoint: stack.dynamodbEndpoint });
  t.teardown(() => raw.destroy());
  const db = documentsOver(raw);
  const s3 = s3ClientFor(stack);
  t.teardown(() => s3.destroy());
  const bucket = stack.env.S3_BUCKET!;
  const tables = tableNames(stack.tablePrefix);
  const users = createUsersRepository(db, tables.users);
  const clock = () => Date.now();
  const chats = createChatsService({
    chats: createChatsRepository(db, tables),
    users,
    events: createBusEventPublisher(createMemoryBus()),
    groupMaxMembers: 50,
    clock,
    // No messages are sent here: no chat has a seq to read up to.
    seqCeiling: async () => 0,
  });
  const quotas = createQuotasService({
    repository: createQuotasRepository(db, tables.users),
    limits: {
      free: { messagesPerDay: 200, storageBytes: FREE_STORAGE },
      premium: { messagesPerDay: 10_000, storageBytes: 10 * FREE_STORAGE },
    },
    clock,
  });
  const blob = createS3BlobStore(s3, bucket);
  const files = createFilesService({ blob, quotas, isMember: (chatId, userId) => chats.isMember(chatId, userId), policy, clock });

  const person = async (): Promise<Person> => {
    const username = uniqueId('p').toLowerCase();
    const user = await users.upsertOnSignIn({ userId: uniqueId('sub'), username }, Date.now());
    return { userId: user.userId, username };
  };
  const [ann, bob, eve] = [await person(), await person(), await person()];
  const chat = await chats.createGroup(ann, 'Ann and Bob', [bob.username]);
  const eveChat = await chats.createGroup(eve, 'Eve alone', []);
  return { stack, s3, bucket, blob, files, quotas, ann, bob, eve, chatId: chat.chatId, eveChatId: eveChat.chatId };
}

/** What a browser does with the upload answer: PUT the bytes with the given headers. */
async function putWithUpload(upload: { url: string; headers: Record<string, string> }, body: Uint8Array<ArrayBuffer>): Promise<Response> {
  return fetch(upload.url, { method: 'PUT', headers: upload.headers, body });
}

function bytes(size: number, seed = 7): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed) % 251);
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`);
  return err;
}

/** Uploads `content` as Ann to her chat through the presigned PUT; returns the pending key. */
async function uploadAsAnn(w: World, name: string, type: string, content: Uint8Array<ArrayBuffer>): Promise<string> {
  const grant = await w.files.createUpload(w.ann.userId, w.chatId, { name, type, size: content.length });
  const res = await putWithUpload(grant.upload, content);
  if (!res.ok) throw new Error(`upload failed: ${res.status} ${await res.text()}`);
  return grant.fileKey;
}

t.test('a file goes up through the presigned PUT, into a message, and down through the presigned GET', async (t) => {
  const w = await world(t);
  const content = bytes(5000);
  const name = 'Résumé 照片 "final".png';
  const before = Date.now();
  const grant = await w.files.createUpload(w.ann.userId, w.chatId, { name, type: 'image/png', size: content.length });

  // 1. The grant: a server-made key under the chat and the uploader, a 5-minute PUT.
  t.match(grant.fileKey, new RegExp(`^pending/${w.chatId}/${w.ann.userId}/[A-Za-z0-9_-]{22}$`));
  t.notMatch(grant.fileKey, /sum|final|png/i, 'nothing of the file name is in the key');
  t.equal(grant.upload.method, 'PUT');
  t.ok(grant.expiresAt >= before + 300_000 && grant.expiresAt <= Date.now() + 300_000);
  const url = new URL(grant.upload.url);
  t.equal(url.searchParams.get('X-Amz-Expires'), '300');
  t.equal(url.searchParams.get('X-Amz-SignedHeaders'), 'content-length;content-type;host;x-amz-meta-name');
  t.notOk(
    [...url.searchParams.keys()].some((k) => k.toLowerCase().startsWith('x-amz-checksum')),
    'no checksum of an empty body',
  );
  t.same(grant.upload.headers, { 'Content-Type': 'image/png', 'x-amz-meta-name': encodeURIComponent(name) });

  // 2. The browser uploads; nothing is reserved yet.
  const put = await putWithUpload(grant.upload, content);
  t.equal(put.status, 200);
  t.equal((await w.quotas.summary(w.ann.userId)).storageBytes, 0, 'an upload alone holds no quota');

  // 3. `send`: the stored object decides size and type; storage is reserved.
  const file = await w.files.prepareFileMessage(w.ann.userId, w.chatId, grant.fileKey);
  t.same(file, { key: grant.fileKey.replace(/^pending\//, 'files/'), name, size: 5000, contentType: 'image/png' });
  t.equal((await w.quotas.summary(w.ann.userId)).storageBytes, 5000);
  await w.files.commitFileMessage(file);
  t.equal(await w.blob.head(grant.fileKey), undefined, 'the pending copy is gone once the message is stored');

  // 4. Another member downloads it.
  const download = await w.files.downloadUrl(w.bob.userId, w.chatId, file.key);
  const downloadUrl = new URL(download.url);
  t.equal(downloadUrl.searchParams.get('X-Amz-Expires'), '900', 'downloads live 15 minutes');
  t.ok(download.expiresAt <= Date.now() + 900_000 && download.expiresAt > Date.now() + 890_000);
  const res = await fetch(download.url);
  t.equal(res.status, 200);
  t.same(new Uint8Array(await res.arrayBuffer()), content, 'the same bytes come back');
  t.equal(res.headers.get('content-type'), 'image/png');
  t.equal(
    res.headers.get('content-disposition'),
    'attachment; filename="R_sum_ __ _final_.png"; filename*=UTF-8\'\'R%C3%A9sum%C3%A9%20%E7%85%A7%E7%89%87%20%22final%22.png',
    'an attachment carrying the original name (RFC 6266)',
  );
});

t.test('uploads are refused with a clear error: too large, wrong type, quota exhausted, not a member', async (t) => {
  const w = await world(t);
  const tooLarge = await rejection(
    w.files.createUpload(w.ann.userId, w.chatId, { name: 'big.pdf', type: 'application/pdf', size: MAX_BYTES + 1 }),
  );
  t.match(tooLarge, { code: 'too_large', statusCode: 413, details: { limit: MAX_BYTES, size: MAX_BYTES + 1 } });
  t.match(tooLarge.message, /at most 64 KB/);

  const wrongType = await rejection(w.files.createUpload(w.ann.userId, w.chatId, { name: 'page.html', type: 'text/html', size: 10 }));
  t.match(wrongType, { code: 'invalid', statusCode: 400, message: /"text\/html" cannot be shared; allowed: image\/png/ });

  await w.quotas.reserveStorage(w.ann.userId, FREE_STORAGE - 1000);
  const noRoom = await rejection(w.files.createUpload(w.ann.userId, w.chatId, { name: 'a.txt', type: 'text/plain', size: 1001 }));
  t.match(noRoom, {
    code: 'quota_exceeded',
    statusCode: 429,
    details: { limit: FREE_STORAGE, used: FREE_STORAGE - 1000, requested: 1001, tier: 'free' },
  });
  await t.resolves(
    w.files.createUpload(w.ann.userId, w.chatId, { name: 'a.txt', type: 'text/plain', size: 1000 }),
    'what still fits is fine',
  );

  const notMember = await rejection(w.files.createUpload(w.eve.userId, w.chatId, { name: 'a.txt', type: 'text/plain', size: 10 }));
  const noChat = await rejection(w.files.createUpload(w.eve.userId, `g_${uniqueId()}`, { name: 'a.txt', type: 'text/plain', size: 10 }));
  t.match(notMember, { code: 'not_found', statusCode: 404 });
  t.same([notMember.code, notMember.message], [noChat.code, noChat.message], 'a non-member learns nothing about whether the chat exists');
  t.equal(notMember.message, chatNotFound().message);
});

t.test('downloads only for current members, only for files of that chat', async (t) => {
  const w = await world(t);
  const pendingKey = await uploadAsAnn(w, 'notes.txt', 'text/plain', bytes(100));
  const file = await w.files.prepareFileMessage(w.ann.userId, w.chatId, pendingKey);
  await w.files.commitFileMessage(file);

  const asEve = await rejection(w.files.downloadUrl(w.eve.userId, w.chatId, file.key));
  t.match(asEve, { code: 'not_found', message: chatNotFound().message }, 'a non-member gets no download URL');
  const throughOwnChat = await rejection(w.files.downloadUrl(w.eve.userId, w.eveChatId, file.key));
  t.match(throughOwnChat, { code: 'not_found', message: 'No such file in this chat' }, 'nor through a chat of her own');
  const pending = await rejection(w.files.downloadUrl(w.ann.userId, w.chatId, pendingKey));
  t.equal(pending.code, 'not_found', 'an upload that was never sent cannot be downloaded');
  const missing = await rejection(w.files.downloadUrl(w.ann.userId, w.chatId, `files/${w.chatId}/${w.ann.userId}/${newFileToken()}`));
  t.equal(missing.code, 'not_found');
});

t.test('a file message accepts only the sender’s own upload to that chat, as it was stored', async (t) => {
  const w = await world(t);
  const pendingKey = await uploadAsAnn(w, 'a.pdf', 'application/pdf', bytes(300));

  const bobSends = await rejection(w.files.prepareFileMessage(w.bob.userId, w.chatId, pendingKey));
  t.match(bobSends, { code: 'invalid', message: /not one of your uploads to this chat/ }, "another member cannot send Ann's upload");
  const eveSends = await rejection(w.files.prepareFileMessage(w.eve.userId, w.eveChatId, pendingKey));
  t.equal(eveSends.code, 'invalid', 'nor can anyone into another chat');
  const madeUp = await rejection(w.files.prepareFileMessage(w.ann.userId, w.chatId, `uploads/${w.chatId}/x.pdf`));
  t.equal(madeUp.code, 'invalid');
  const neverUploaded = await rejection(
    w.files.prepareFileMessage(w.ann.userId, w.chatId, `pending/${w.chatId}/${w.ann.userId}/${newFileToken()}`),
  );
  t.match(neverUploaded, { code: 'not_found', message: /upload the file again/ });
  const outsider = await rejection(w.files.prepareFileMessage(w.eve.userId, w.chatId, pendingKey));
  t.match(outsider, { code: 'not_found', message: chatNotFound().message });
  t.equal((await w.quotas.summary(w.ann.userId)).storageBytes, 0, 'no refusal reserved anything');
});

t.test('a send is checked against what S3 holds, not what was declared', async (t) => {
  // The emulator takes any size and type on a presigned URL (real S3 would not, see
  // below), so put objects there directly, as a forged upload would leave them.
  const w = await world(t);
  const key = (await w.files.createUpload(w.ann.userId, w.chatId, { name: 'x.png', type: 'image/png', size: 10 })).fileKey;
  await w.s3.send(
    new PutObjectCommand({ Bucket: w.bucket, Key: key, Body: bytes(MAX_BYTES + 5), ContentType: 'image/png', Metadata: { name: 'x.png' } }),
  );
  t.match(await rejection(w.files.prepareFileMessage(w.ann.userId, w.chatId, key)), { code: 'too_large' });

  await w.s3.send(
    new PutObjectCommand({ Bucket: w.bucket, Key: key, Body: bytes(10), ContentType: 'text/html', Metadata: { name: 'x.png' } }),
  );
  t.match(await rejection(w.files.prepareFileMessage(w.ann.userId, w.chatId, key)), { code: 'invalid', message: /text\/html/ });

  await w.s3.send(new PutObjectCommand({ Bucket: w.bucket, Key: key, Body: bytes(10), ContentType: 'image/png' }));
  t.match(await rejection(w.files.prepareFileMessage(w.ann.userId, w.chatId, key)), { code: 'invalid', message: /lacks its name/ });
  t.equal((await w.quotas.summary(w.ann.userId)).storageBytes, 0);
});

t.test('storage is reserved at send, atomically: the file that does not fit is refused and nothing is copied', async (t) => {
  const w = await world(t);
  const first = await uploadAsAnn(w, 'a.txt', 'text/plain', bytes(40 * 1024));
  const second = await uploadAsAnn(w, 'b.txt', 'text/plain', bytes(40 * 1024));
  const third = await uploadAsAnn(w, 'c.txt', 'text/plain', bytes(40 * 1024));
  t.equal((await w.quotas.summary(w.ann.userId)).storageBytes, 0, 'three uploads, nothing held');

  const results = await Promise.allSettled([first, second, third].map((key) => w.files.prepareFileMessage(w.ann.userId, w.chatId, key)));
  const sent = results.filter((r) => r.status === 'fulfilled');
  const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as AppError] : []));
  t.equal(sent.length, 2, 'two 40 KB files fit in 100 KB');
  t.equal(refused.length, 1);
  t.equal(refused[0]?.code, 'quota_exceeded');
  t.equal((await w.quotas.summary(w.ann.userId)).storageBytes, 80 * 1024);
  const refusedKey = [first, second, third][results.findIndex((r) => r.status === 'rejected')]!;
  t.equal(await w.blob.head(refusedKey.replace(/^pending\//, 'files/')), undefined, 'the refused file was not copied');
});

t.test('a message that could not be stored gives back its storage and its copy', async (t) => {
  const w = await world(t);
  const pendingKey = await uploadAsAnn(w, 'a.txt', 'text/plain', bytes(2048));
  const file = await w.files.prepareFileMessage(w.ann.userId, w.chatId, pendingKey);
  t.equal((await w.quotas.summary(w.ann.userId)).storageBytes, 2048);
  t.ok(await w.blob.head(file.key));
  await w.files.abortFileMessage(w.ann.userId, file);
  t.equal((await w.quotas.summary(w.ann.userId)).storageBytes, 0);
  t.equal(await w.blob.head(file.key), undefined);
  t.ok(await w.blob.head(pendingKey), 'the upload itself stays until it expires, so the sender may try again');
});

t.test('the pending sweeper removes unsent uploads older than its cut-off, and nothing else', async (t) => {
  const w = await world(t);
  const unsent = await uploadAsAnn(w, 'unsent.txt', 'text/plain', bytes(10));
  const sentPending = await uploadAsAnn(w, 'sent.txt', 'text/plain', bytes(10));
  const sent = await w.files.prepareFileMessage(w.ann.userId, w.chatId, sentPending);
  await w.files.commitFileMessage(sent);
  const logged: string[] = [];
  const logger = { info: (_: object, msg: string) => logged.push(msg), warn: (_: object, msg: string) => logged.push(msg) };

  // The uploads were made just now; a clock an hour ahead makes them an hour old.
  const hourAhead = () => Date.now() + 60 * 60 * 1000;
  const young = createPendingSweeper({ blob: w.blob, olderThanMs: 2 * 60 * 60 * 1000, intervalMs: 60_000, logger, clock: hourAhead });
  t.equal(await young.sweepOnce(), 0, 'uploads younger than the cut-off stay');
  t.ok(await w.blob.head(unsent));

  const old = createPendingSweeper({ blob: w.blob, olderThanMs: 30 * 60 * 1000, intervalMs: 60_000, logger, clock: hourAhead });
  t.equal(await old.sweepOnce(), 1);
  t.equal(await w.blob.head(unsent), undefined, 'the unsent upload is gone');
  t.ok(await w.blob.head(sent.key), 'sent files are never touched');
  t.same(logged, ['removed uploads that were never sent']);

  old.start();
  await old.stop();
});

// ---------------------------------------------------------------------------
// What S3 itself would refuse. S3 recomputes the SigV4 signature from the request
// it receives (method, path, query, and the headers named in X-Amz-SignedHeaders)
// and refuses it unless it equals X-Amz-Signature. The emulator skips that step, so
// we take it here with the signer the SDK itself uses.

interface AttemptedUpload {
  path: string;
  contentType: string;
  contentLength: number;
  name: string;
}

/** The signature S3 would compute for `attempt`, given the query of a presigned URL. */
async function signatureS3WouldCompute(w: World, presigned: URL, attempt: AttemptedUpload): Promise<string> {
  const signer = new SignatureV4({
    service: 's3',
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    sha256: w.s3.config.sha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  const amzDate = presigned.searchParams.get('X-Amz-Date')!;
  const signingDate = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  const signed = await signer.presign(
    {
      method: 'PUT',
      protocol: presigned.protocol,
      hostname: presigned.hostname,
      port: Number(presigned.port),
      path: attempt.path,
      query: { 'x-id': 'PutObject' },
      headers: {
        // S3 presigned URLs never cover the body itself (it could not be known in advance).
        'X-Amz-Content-Sha256': 'UNSIGNED-PAYLOAD',
        host: presigned.host,
        'content-type': attempt.contentType,
        'content-length': String(attempt.contentLength),
        'x-amz-meta-name': attempt.name,
      },
    },
    {
      signingDate,
      expiresIn: Number(presigned.searchParams.get('X-Amz-Expires')),
      signableHeaders: new Set(['content-type', 'content-length']),
      unhoistableHeaders: new Set(['x-amz-meta-name']),
    },
  );
  return String(signed.query?.['X-Amz-Signature']);
}

t.test('S3 would refuse an upload of another size, type, name or key: the signature no longer matches', async (t) => {
  const w = await world(t);
  const grant = await w.files.createUpload(w.ann.userId, w.chatId, { name: 'photo.png', type: 'image/png', size: 1234 });
  const url = new URL(grant.upload.url);
  const presignedSignature = url.searchParams.get('X-Amz-Signature');
  const declared: AttemptedUpload = { path: url.pathname, contentType: 'image/png', contentLength: 1234, name: 'photo.png' };

  t.equal(
    await signatureS3WouldCompute(w, url, declared),
    presignedSignature,
    'the upload as declared: S3 computes the same signature and accepts it',
  );
  const otherKey = url.pathname.replace(/[^/]+$/, newFileToken());
  for (const [what, attempt] of [
    ['one byte more', { ...declared, contentLength: 1235 }],
    ['a bigger file', { ...declared, contentLength: 10 * 1024 * 1024 }],
    ['another type', { ...declared, contentType: 'text/html' }],
    ['another name', { ...declared, name: 'evil.exe' }],
    ['another key', { ...declared, path: otherKey }],
    ['another chat', { ...declared, path: url.pathname.replace(`/${w.chatId}/`, `/${w.eveChatId}/`) }],
  ] as const) {
    const signature = await signatureS3WouldCompute(w, url, attempt);
    t.not(signature, presignedSignature, `${what}: S3 computes another signature and refuses the upload`);
  }
});

t.test('the presigned download signs the attachment disposition, so it cannot be turned inline', async (t) => {
  const w = await world(t);
  const pendingKey = await uploadAsAnn(w, 'a.txt', 'text/plain', bytes(10));
  const file = await w.files.prepareFileMessage(w.ann.userId, w.chatId, pendingKey);
  const { url } = await w.files.downloadUrl(w.ann.userId, w.chatId, file.key);
  const parsed = new URL(url);
  t.equal(parsed.searchParams.get('response-content-disposition'), 'attachment; filename="a.txt"');
  t.equal(parsed.searchParams.get('response-content-type'), 'text/plain');
  t.equal(parsed.searchParams.get('X-Amz-SignedHeaders'), 'host', 'query parameters, disposition included, are all inside the signature');
});
