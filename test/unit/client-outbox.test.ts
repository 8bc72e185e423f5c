import t from 'tap';
import { Outbox, newClientMsgId } from '../../src/web/outbox.js';

t.test('client message ids are fresh and fit the protocol', async (t) => {
  const ids = new Set(Array.from({ length: 200 }, () => newClientMsgId()));
  t.equal(ids.size, 200);
  t.same(
    [...ids].filter((id) => !/^[A-Za-z0-9_-]{1,64}$/.test(id)),
    [],
    'every id matches the protocol pattern',
  );
});

t.test('a failed message retried keeps its clientMsgId', async (t) => {
  const outbox = new Outbox();
  const entry = outbox.add('c1', { text: 'hello' });
  const first = outbox.frameFor(entry);
  t.same(first, { type: 'send', id: entry.clientMsgId, chatId: 'c1', clientMsgId: entry.clientMsgId, text: 'hello' });
  outbox.fail(entry.clientMsgId, { code: 'unavailable', message: 'try again' });
  t.same(outbox.unacked(), [], 'a failed message is not sent again by itself');
  outbox.retry(entry.clientMsgId);
  t.equal(outbox.frameFor(outbox.unacked()[0]!).clientMsgId, first.clientMsgId);
});

t.test('a file message is sent by its key', async (t) => {
  const outbox = new Outbox();
  const entry = outbox.add('c1', { fileKey: 'files/c1/abc', file: { name: 'a.png', size: 3, contentType: 'image/png' } });
  t.same(outbox.frameFor(entry), {
    type: 'send',
    id: entry.clientMsgId,
    chatId: 'c1',
    clientMsgId: entry.clientMsgId,
    fileKey: 'files/c1/abc',
  });
});

t.test('an acked message stays until the timeline shows it', async (t) => {
  const outbox = new Outbox();
  const entry = outbox.add('c1', { text: 'hello' });
  outbox.ack(entry.clientMsgId, 7, 1000);
  t.equal(
    outbox.settle('c1', (seq) => seq <= 6),
    0,
  );
  t.equal(outbox.forChat('c1').length, 1);
  t.notOk(outbox.fail(entry.clientMsgId, { code: 'internal', message: 'late' }), 'an acked message cannot fail');
  t.equal(
    outbox.settle('c1', (seq) => seq <= 7),
    1,
  );
  t.equal(outbox.forChat('c1').length, 0);
});

t.test('a file being uploaded is shown, never sent, until its bytes are stored', async (t) => {
  const outbox = new Outbox();
  const file = { name: 'a.png', size: 3, contentType: 'image/png' };
  const entry = outbox.addUpload('c1', file);
  t.equal(entry.status, 'uploading');
  t.same(outbox.forChat('c1'), [entry], 'it is in the conversation at once');
  t.same(outbox.unacked(), [], 'nothing to send while uploading, not even after a reconnect');
  outbox.uploadProgress(entry.clientMsgId, 0.4);
  t.equal(entry.progress, 0.4);
  outbox.uploaded(entry.clientMsgId, 'files/c1/abc');
  t.same(outbox.unacked(), [entry], 'stored: now it goes');
  t.equal(outbox.frameFor(entry).fileKey, 'files/c1/abc');
  t.equal(entry.progress, null);
});

t.test('a refused upload can only be discarded; a refused message can be retried', async (t) => {
  const outbox = new Outbox();
  const upload = outbox.addUpload('c1', { name: 'tool.exe', size: 2, contentType: 'application/x-msdownload' });
  outbox.fail(upload.clientMsgId, { code: 'refused', message: 'Files of type application/x-msdownload are not accepted.' });
  t.equal(upload.status, 'failed');
  t.notOk(outbox.canRetry(upload), 'no bytes were stored, so there is nothing to send again');
  t.equal(outbox.retry(upload.clientMsgId), undefined);
  t.same(outbox.unacked(), []);
  const text = outbox.add('c1', { text: 'hello' });
  outbox.fail(text.clientMsgId, { code: 'quota_exceeded', message: 'limit' });
  t.ok(outbox.canRetry(text));
  t.ok(outbox.remove(upload.clientMsgId), 'Discard removes it');
  t.same(
    outbox.forChat('c1').map((entry) => entry.clientMsgId),
    [text.clientMsgId],
  );
});
