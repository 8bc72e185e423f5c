import t from 'tap';
import {
  attachmentDisposition,
  checkFileSize,
  checkFileType,
  cleanFileName,
  decodeNameFromMetadata,
  encodeNameForMetadata,
  fileKey,
  newFileToken,
  parseFileKey,
} from '../../src/domain/files/file-policy.js';
import { isAllowedType, mediaTypeOf } from '../../src/shared/files.js';
import { type AppError } from '../../src/model/errors.js';

const allowed = ['image/png', 'image/jpeg', 'application/pdf', 'text/plain'];

t.test('keys are built by the server in the documented layout and parsed back', async (t) => {
  const token = newFileToken();
  t.match(token, /^[A-Za-z0-9_-]{22}$/);
  t.not(newFileToken(), token, 'tokens are random');
  const key = fileKey({ stage: 'pending', chatId: 'g_abc', uploaderId: 'user-1', token });
  t.equal(key, `pending/g_abc/user-1/${token}`);
  t.same(parseFileKey(key), { stage: 'pending', chatId: 'g_abc', uploaderId: 'user-1', token });
  t.equal(fileKey({ stage: 'files', chatId: 'g_abc', uploaderId: 'user-1', token }), `files/g_abc/user-1/${token}`);
});

t.test('anything outside the key layout is not a key', async (t) => {
  const token = newFileToken();
  for (const key of [
    `other/g/u/${token}`,
    `pending/g/u/${token}/extra`,
    `pending/g/${token}`,
    `pending/../u/${token}`,
    `pending/g/u/short`,
    `pending/g/u/${token}.png`,
    `files/g/u/${token}?x=1`,
    '',
  ]) {
    t.equal(parseFileKey(key), undefined, key);
  }
  t.throws(() => fileKey({ stage: 'pending', chatId: 'a/b', uploaderId: 'u', token }), 'a chat id with a slash breaks the layout');
});

t.test('types compare by media type, case-insensitively, and families may be allowed', async (t) => {
  t.equal(mediaTypeOf('Text/Plain; charset=UTF-8'), 'text/plain');
  t.ok(isAllowedType('image/png', allowed));
  t.notOk(isAllowedType('image/svg+xml', allowed));
  t.ok(isAllowedType('image/svg+xml', ['image/*']));
  t.notOk(isAllowedType('image/', ['image/*']));
  t.notOk(isAllowedType('imagex/png', ['image/*']));
});

t.test('a type outside the allow-list is refused, naming what is allowed', async (t) => {
  t.doesNotThrow(() => checkFileType('application/pdf', { allowedTypes: allowed }));
  const err = t.throws(() => checkFileType('text/html', { allowedTypes: allowed })) as AppError;
  t.equal(err.code, 'invalid');
  t.match(err.message, /text\/html.*image\/png, image\/jpeg, application\/pdf, text\/plain/);
});

t.test('a file over the size limit is refused as too large; an empty one as invalid', async (t) => {
  const policy = { maxBytes: 2 * 1024 * 1024 };
  t.doesNotThrow(() => checkFileSize(2 * 1024 * 1024, policy), 'exactly the limit is fine');
  const err = t.throws(() => checkFileSize(2 * 1024 * 1024 + 1, policy)) as AppError;
  t.equal(err.code, 'too_large');
  t.equal(err.statusCode, 413);
  t.same(err.details, { limit: 2 * 1024 * 1024, size: 2 * 1024 * 1024 + 1 });
  t.match(err.message, /at most 2 MB/);
  t.equal((t.throws(() => checkFileSize(0, policy)) as AppError).code, 'invalid');
  t.equal((t.throws(() => checkFileSize(1.5, policy)) as AppError).code, 'invalid');
});

t.test('file names lose paths and control characters, and must remain', async (t) => {
  t.equal(cleanFileName('C:\\fakepath\\report.pdf'), 'report.pdf');
  t.equal(cleanFileName('../../etc/passwd'), 'passwd');
  t.equal(cleanFileName('  a\r\nb\u0000.txt '), 'ab.txt');
  t.equal(cleanFileName('Ünïcødé 照片.png'), 'Ünïcødé 照片.png');
  t.throws(() => cleanFileName('dir/'), { code: 'invalid' });
  t.throws(() => cleanFileName('..'), { code: 'invalid' });
  t.throws(() => cleanFileName('x'.repeat(256)), { code: 'invalid' });
});

t.test('names travel through metadata as ASCII and come back unchanged', async (t) => {
  const name = 'Résumé "final" 100%.pdf';
  const encoded = encodeNameForMetadata(name);
  t.match(encoded, /^[\x21-\x7e]+$/);
  t.equal(decodeNameFromMetadata(encoded), name);
  t.equal(decodeNameFromMetadata('%E0%A4%A'), undefined, 'a broken encoding is no name');
  t.equal(decodeNameFromMetadata(undefined), undefined);
});

t.test('downloads are attachments with the name encoded as RFC 6266 says', async (t) => {
  t.equal(attachmentDisposition('report.pdf'), 'attachment; filename="report.pdf"');
  t.equal(
    attachmentDisposition('Résumé (v2).pdf'),
    'attachment; filename="R_sum_ (v2).pdf"; filename*=UTF-8\'\'R%C3%A9sum%C3%A9%20%28v2%29.pdf',
  );
  t.equal(
    attachmentDisposition('a"b\\c.txt'),
    'attachment; filename="a_b_c.txt"; filename*=UTF-8\'\'a%22b%5Cc.txt',
    'quotes and backslashes never break the header',
  );
  t.equal(attachmentDisposition('照片.png'), 'attachment; filename="__.png"; filename*=UTF-8\'\'%E7%85%A7%E7%89%87.png');
});
