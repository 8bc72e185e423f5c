/**
 * The page: renders what the ChatClient (chat-client.ts) holds and turns what the
 * user does into its calls or HTTP requests (api.ts). No framework: the chat list
 * and header re-render (they are small); the conversation is updated in place
 * (timeline-view.ts). Renders are batched to one pass per burst of frames.
 */
import { formatBytes } from '../shared/files.js';
import { ChatClient, describeSendError, type ChatState, type DisplayMessage } from './chat-client.js';
import { api, ApiError, createDownloadUrls, uploadBytes, type UploadHandle } from './api.js';
import { byId, h } from './dom.js';
import { createDraftStore } from './drafts.js';
import { fileRefusal } from './file-check.js';
import { listNames, typingSentence } from './format.js';
import { TimelineView, textWithLinks } from './timeline-view.js';

const wsUrl = () => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;

const client = new ChatClient({ url: wsUrl() });
const downloads = createDownloadUrls();
const drafts = createDraftStore(safeLocalStorage());
let activeChatId: string | null = null;
/** Uploads under way, by the clientMsgId of the message they will become. */
const uploads = new Map<string, UploadHandle>();

function safeLocalStorage(): Storage | undefined {
  try {
    return window.localStorage;
  } catch {
    return undefined;
  }
}

const composer = byId<HTMLTextAreaElement>('composer-input');

// ---------- small pieces ----------

function otherMembers(chat: ChatState) {
  return (chat.summary.members ?? []).filter((member) => member.userId !== client.me?.userId);
}

function chatTitle(chat: ChatState): string {
  if (chat.summary.kind === 'direct') return otherMembers(chat)[0]?.username ?? chat.summary.title ?? 'Direct chat';
  return chat.summary.title || 'Group';
}

function isOnline(userId: string): boolean {
  // The server tells us about others; we know about ourselves.
  return userId === client.me?.userId ? client.connection === 'online' : client.isOnline(userId);
}

/** Filled for online, a hollow ring for offline: shape as well as colour, and text for screen readers. */
function presenceDot(userId: string): HTMLElement {
  const online = isOnline(userId);
  return h(
    'span',
    { class: 'presence', dataset: { online: String(online) }, title: online ? 'online' : 'offline' },
    h('span', { class: 'visually-hidden' }, online ? '(online)' : '(offline)'),
  );
}

function describeApiError(err: unknown): string {
  return err instanceof ApiError ? err.message : 'Something went wrong; try again.';
}

// ---------- screens and notices ----------

function showScreen(name: 'loading' | 'signed-out' | 'app') {
  byId('loading-screen').hidden = name !== 'loading';
  byId('signed-out-screen').hidden = name !== 'signed-out';
  byId('app').hidden = name !== 'app';
}

function showSignedOut(reason?: string) {
  client.stop();
  const reasonElement = byId('signed-out-reason');
  reasonElement.textContent = reason ?? '';
  reasonElement.hidden = !reason;
  showScreen('signed-out');
  // Signed out in the middle of using the page: take the keyboard straight to the way back in.
  if (reason) byId('sign-in').focus();
}

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
function showNotice(text: string) {
  byId('notice-text').textContent = text;
  byId('notice').hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (byId('notice').hidden = true), 10_000);
}

// ---------- rendering, batched ----------

type Part = 'list' | 'header' | 'messages' | 'older' | 'typing' | 'connection' | 'me';
const dirty = new Set<Part>();
let flushQueued = false;

function schedule(...parts: Part[]) {
  for (const part of parts) dirty.add(part);
  if (flushQueued) return;
  flushQueued = true;
  queueMicrotask(flush);
}

function flush() {
  flushQueued = false;
  const parts = new Set(dirty);
  dirty.clear();
  if (parts.has('connection')) renderConnection();
  if (parts.has('me')) renderMe();
  if (parts.has('list')) renderChatList();
  if (parts.has('header')) renderChatHeader();
  if (parts.has('messages')) renderMessages(parts.has('older'));
  if (parts.has('typing')) renderTyping();
}

let countdownTimer: ReturnType<typeof setTimeout> | undefined;
function renderConnection() {
  const element = byId('connection');
  const state = client.connection;
  element.dataset.state = state;
  const pending = client.outbox.unacked().length;
  const waiting = pending > 0 ? ` ${pending} message${pending === 1 ? '' : 's'} waiting to be sent.` : '';
  clearTimeout(countdownTimer);
  let text: string;
  if (state === 'online') text = 'Connected';
  else if (state === 'offline') {
    const seconds = client.nextAttemptAt === null ? 0 : Math.ceil((client.nextAttemptAt - Date.now()) / 1000);
    text = !navigator.onLine ? 'Offline' : seconds > 0 ? `Reconnecting in ${seconds} s…` : 'Reconnecting…';
    text += waiting;
    // The countdown ticks; a status region is not re-announced for it (only the first text is read).
    if (seconds > 0) countdownTimer = setTimeout(() => schedule('connection'), 1000);
  } else if (state === 'signed-out') text = 'Signed out';
  else if (state === 'stopped') text = 'Disconnected';
  else text = 'Connecting…';
  if (element.textContent !== text) element.textContent = text;
}

function renderMe() {
  const me = client.me;
  if (!me) return;
  byId('me').textContent = `${me.username}${me.tier === 'premium' ? ' (premium)' : ''}`;
  const quota = client.quota;
  byId('quota').textContent =
    quota && typeof quota.messagesPerDay === 'number'
      ? `${quota.messagesToday}/${quota.messagesPerDay} messages today · ${formatBytes(quota.storageBytes)} of ${formatBytes(quota.storageLimitBytes)}`
      : '';
}

function renderChatList() {
  const list = byId('chat-list');
  const focused =
    document.activeElement instanceof HTMLElement ? document.activeElement.closest<HTMLElement>('#chat-list [data-chat-id]') : null;
  const focusedChatId = focused?.dataset.chatId;
  const chats = client.chatList();
  let totalUnread = 0;
  const items = chats.map((chat) => {
    const { summary } = chat;
    const unread = summary.chatId === activeChatId ? 0 : (summary.unread ?? 0);
    totalUnread += unread;
    const other = summary.kind === 'direct' ? otherMembers(chat)[0] : undefined;
    const last = summary.lastMessage;
    const preview = last
      ? `${last.senderId === client.me?.userId ? 'You: ' : summary.kind === 'group' ? `${client.memberName(chat, last.senderId)}: ` : ''}${last.preview}`
      : 'No messages yet';
    return h(
      'li',
      {},
      h(
        'button',
        {
          type: 'button',
          class: `chat-item${unread > 0 ? ' has-unread' : ''}`,
          dataset: { chatId: summary.chatId },
          'aria-current': summary.chatId === activeChatId ? 'true' : undefined,
          onclick: () => selectChat(summary.chatId, { focusComposer: true }),
        },
        h(
          'span',
          { class: 'chat-item-title' },
          other ? presenceDot(other.userId) : h('span', { class: 'group-mark', 'aria-hidden': 'true' }, '#'),
          h('span', { class: 'name' }, chatTitle(chat)),
        ),
        unread > 0
          ? h(
              'span',
              { class: 'badge', dataset: { unread: String(unread) } },
              String(unread),
              h('span', { class: 'visually-hidden' }, ` unread message${unread === 1 ? '' : 's'}`),
            )
          : null,
        h('span', { class: 'preview muted' }, preview),
      ),
    );
  });
  list.replaceChildren(...items);
  byId('chat-list-empty').hidden = chats.length > 0;
  document.title = totalUnread > 0 ? `(${totalUnread}) huddle` : 'huddle';
  if (focusedChatId) list.querySelector<HTMLElement>(`[data-chat-id="${CSS.escape(focusedChatId)}"]`)?.focus();
}

function renderChatHeader() {
  const chat = activeChatId ? client.getChat(activeChatId) : undefined;
  byId('no-chat').hidden = Boolean(chat);
  byId('chat-view').hidden = !chat;
  document.body.classList.toggle('chat-open', Boolean(chat));
  if (!chat) return;
  const { summary } = chat;
  byId('chat-title').textContent = chatTitle(chat);
  const others = otherMembers(chat);
  const subtitle =
    summary.kind === 'direct'
      ? others[0] && isOnline(others[0].userId)
        ? 'online'
        : 'offline'
      : `${summary.members.length} members, ${summary.members.filter((m) => isOnline(m.userId)).length} online`;
  byId('chat-subtitle').textContent = subtitle;

  const isGroup = summary.kind === 'group';
  const iCreated = summary.createdBy === client.me?.userId;
  byId('member-list').replaceChildren(
    ...summary.members.map((member) =>
      h(
        'li',
        {},
        presenceDot(member.userId),
        h('span', { class: 'name' }, member.username, member.userId === client.me?.userId ? ' (you)' : ''),
        isGroup && iCreated && member.userId !== client.me?.userId
          ? h(
              'button',
              { type: 'button', class: 'link-button', onclick: () => void removeMember(member), 'aria-label': `Remove ${member.username}` },
              'Remove',
            )
          : null,
      ),
    ),
  );
  byId('add-member-form').hidden = !isGroup;
  byId('leave-chat').hidden = !isGroup;
}

// ---------- the conversation ----------

function fileLabel(file: DisplayMessage['file']): string {
  return `${file?.name ?? 'file'}${file?.size ? ` (${formatBytes(file.size)})` : ''}`;
}

/** An image as a fixed-size thumbnail (no jump when it loads) that opens full size. */
function imageThumbnail(chatId: string, fileKey: string, name: string, label: string): HTMLElement {
  const img = h('img', { class: 'preview-image', alt: name, loading: 'lazy', decoding: 'async', width: '240', height: '180' });
  const link = h(
    'a',
    {
      class: 'thumbnail',
      target: '_blank',
      rel: 'noopener noreferrer',
      title: `Open ${name} full size`,
      // The file store serves files as attachments (a download, never a page of its origin): show it here instead.
      onclick: (event: MouseEvent) => {
        if (event.ctrlKey || event.metaKey || event.shiftKey || !link.href) return;
        event.preventDefault();
        openImageViewer(link.href, name);
      },
    },
    img,
  );
  const show = (url: string) => {
    img.src = url;
    link.href = url;
  };
  let retried = false;
  img.addEventListener('error', () => {
    // The presigned URL may have expired while the image waited to load: ask once for a fresh one.
    if (retried) return;
    retried = true;
    downloads.forget(fileKey);
    downloads.get(chatId, fileKey).then(show, () => {});
  });
  downloads.get(chatId, fileKey).then(show, () => link.replaceWith(h('span', { class: 'muted' }, `Image unavailable: ${label}`)));
  return h('figure', { class: 'file' }, link, h('figcaption', { class: 'muted' }, label));
}

/** The picture at its own size (up to the window's), in a modal dialog: Escape or Close returns to the thumbnail. */
function openImageViewer(url: string, name: string) {
  const viewer = byId<HTMLDialogElement>('image-viewer');
  const image = byId<HTMLImageElement>('image-viewer-image');
  image.src = url;
  image.alt = name;
  byId('image-viewer-caption').textContent = name;
  viewer.showModal();
}

function fileBody(item: DisplayMessage): HTMLElement {
  const file = item.file;
  const label = fileLabel(file);
  if (item.status === 'pending' || item.status === 'failed' || !file?.key) return h('p', { class: 'file muted' }, `📎 ${label}`);
  const chatId = activeChatId!;
  if ((file.contentType ?? '').startsWith('image/')) return imageThumbnail(chatId, file.key, file.name ?? 'image', label);
  const key = file.key;
  const link = h(
    'a',
    {
      href: '#',
      class: 'file-link',
      onclick: (event: Event) => {
        event.preventDefault();
        downloads.get(chatId, key).then(
          (url) => window.open(url, '_blank', 'noopener'),
          (err: unknown) => showNotice(describeApiError(err)),
        );
      },
    },
    `Download ${label}`,
  );
  return h('p', { class: 'file' }, link);
}

function receiptText(item: DisplayMessage): string {
  if (item.status === 'pending') return client.connection === 'online' ? 'Sending…' : 'Waiting for the connection…';
  if (item.status === 'sent' || item.seq === null || !activeChatId) return 'Sent';
  const readers = client.readBy(activeChatId, item.seq);
  if (readers.length === 0) return 'Sent';
  return client.getChat(activeChatId)?.summary.kind === 'direct' ? 'Read' : `Read by ${readers.length}`;
}

function uploadStatus(clientMsgId: string, name: string, fraction: number): HTMLElement {
  const percent = Math.round(fraction * 100);
  return h(
    'p',
    { class: 'status muted upload-progress', dataset: { upload: clientMsgId } },
    h('progress', { max: '100', value: String(percent), 'aria-label': `Uploading ${name}` }),
    h('span', { class: 'upload-percent' }, ` Uploading… ${percent} % `),
    h('button', { type: 'button', class: 'link-button', onclick: () => cancelUpload(clientMsgId) }, 'Cancel'),
  );
}

function showUploadProgress(clientMsgId: string, fraction: number) {
  client.uploadProgress(clientMsgId, fraction);
  const row = document.querySelector(`[data-upload="${CSS.escape(clientMsgId)}"]`);
  if (!row) return;
  const percent = Math.round(fraction * 100);
  row.querySelector('progress')?.setAttribute('value', String(percent));
  const text = row.querySelector('.upload-percent');
  if (text) text.textContent = ` Uploading… ${percent} % `;
}

const timeline = new TimelineView(
  byId('messages'),
  byId('message-list'),
  {
    body: (item) => (item.kind === 'file' ? fileBody(item) : h('p', { class: 'text' }, ...textWithLinks(item.text ?? ''))),
    // Upload progress is left out: the bar moves in place (showUploadProgress), so Cancel keeps its focus.
    statusSignature: (item) => (item.mine ? `${item.status}|${receiptText(item)}|${item.error?.message ?? ''}` : ''),
    status: (item) => {
      if (!item.mine) return null;
      const clientMsgId = item.clientMsgId!;
      if (item.status === 'uploading') return uploadStatus(clientMsgId, item.file?.name ?? 'file', item.progress ?? 0);
      if (item.status !== 'failed') {
        const readers = activeChatId && item.seq !== null ? client.readBy(activeChatId, item.seq) : [];
        return h(
          'p',
          { class: 'status muted', title: readers.length > 0 ? `Read by ${listNames(readers)}` : undefined },
          receiptText(item),
        );
      }
      return h(
        'p',
        { class: 'status error' },
        `Not sent: ${describeSendError(item.error)} `,
        item.retryable ? h('button', { type: 'button', class: 'link-button', onclick: () => client.retry(clientMsgId) }, 'Retry') : null,
        item.retryable ? ' ' : null,
        h('button', { type: 'button', class: 'link-button', onclick: () => client.discard(clientMsgId) }, 'Discard'),
      );
    },
  },
  (count) => {
    const jump = byId('jump-to-latest');
    jump.hidden = count === 0;
    jump.textContent = count === 1 ? 'Jump to latest (1 new)' : `Jump to latest (${count} new)`;
  },
  announce,
);

function announce(text: string) {
  // A fresh text node each time, so the same words twice are still announced.
  byId('announcer').replaceChildren(document.createTextNode(text));
}

function renderMessages(older: boolean) {
  const chat = activeChatId ? client.getChat(activeChatId) : undefined;
  if (!chat || !activeChatId) {
    timeline.clear();
    return;
  }
  timeline.render({
    chatId: activeChatId,
    messages: client.messagesFor(activeChatId),
    firstUnreadSeq: client.firstUnreadSeq(activeChatId),
    older,
  });
  const loaded = chat.timeline.loaded;
  byId('load-older').hidden = !(loaded && chat.timeline.hasMore);
  byId('history-start').hidden = !(loaded && !chat.timeline.hasMore);
  // A first page shorter than the view leaves nothing to scroll: fetch older ones until it fills.
  const scroller = byId('messages');
  if (loaded && chat.timeline.hasMore && scroller.scrollHeight <= scroller.clientHeight) client.loadOlder(activeChatId);
}

function renderTyping() {
  byId('typing').textContent = activeChatId ? typingSentence(client.typingNames(activeChatId)) : '';
}

// ---------- navigation ----------

function chatIdFromHash(): string | null {
  const match = /^#chat\/(.+)$/.exec(location.hash);
  return match?.[1] ? decodeURIComponent(match[1]) : null;
}

function selectChat(chatId: string | null, { focusComposer = false } = {}) {
  const target = chatId ? `#chat/${encodeURIComponent(chatId)}` : '';
  if (location.hash !== target) {
    if (target) location.hash = target;
    else history.pushState(null, '', location.pathname + location.search);
  }
  openChat(chatId);
  if (focusComposer && chatId) {
    // The conversation is hidden until rendered, and a hidden box cannot take focus.
    flush();
    composer.focus();
  }
}

function openChat(chatId: string | null) {
  const known = chatId && client.getChat(chatId) ? chatId : null;
  if (known === activeChatId) return;
  activeChatId = known;
  client.openChat(known);
  composer.value = known ? drafts.get(known) : '';
  byId<HTMLDetailsElement>('members-details').open = false;
  schedule('list', 'header', 'messages', 'typing');
}

// ---------- actions ----------

async function startDirect(event: Event) {
  event.preventDefault();
  const input = byId<HTMLInputElement>('direct-username');
  const username = input.value.trim();
  if (!username) return;
  try {
    const chat = await api.startDirect(username);
    client.upsertChat(chat);
    input.value = '';
    selectChat(chat.chatId, { focusComposer: true });
  } catch (err) {
    showNotice(describeApiError(err));
  }
}

async function createGroup(event: Event) {
  event.preventDefault();
  const title = byId<HTMLInputElement>('group-title').value.trim();
  const members = byId<HTMLInputElement>('group-members')
    .value.split(/[\s,]+/)
    .map((name) => name.trim())
    .filter(Boolean);
  try {
    const chat = await api.createGroup(title, members);
    client.upsertChat(chat);
    byId<HTMLFormElement>('group-form').reset();
    byId<HTMLDetailsElement>('group-details').open = false;
    selectChat(chat.chatId, { focusComposer: true });
  } catch (err) {
    showNotice(describeApiError(err));
  }
}

async function addMember(event: Event) {
  event.preventDefault();
  const input = byId<HTMLInputElement>('add-member-username');
  const chatId = activeChatId;
  if (!chatId || !input.value.trim()) return;
  try {
    client.upsertChat(await api.addMember(chatId, input.value.trim()));
    input.value = '';
    schedule('header', 'list');
  } catch (err) {
    showNotice(describeApiError(err));
  }
}

async function removeMember(member: { userId: string; username: string }) {
  const chatId = activeChatId;
  if (!chatId || !confirm(`Remove ${member.username} from this group?`)) return;
  try {
    client.upsertChat(await api.removeMember(chatId, member.userId));
    schedule('header', 'list');
  } catch (err) {
    showNotice(describeApiError(err));
  }
}

async function leaveChat() {
  const chatId = activeChatId;
  if (!chatId || !confirm('Leave this group? You will no longer see its messages.')) return;
  try {
    await api.leave(chatId);
    client.removeChat(chatId);
  } catch (err) {
    showNotice(describeApiError(err));
  }
}

async function signOut() {
  try {
    const answer = await api.signOut();
    client.stop();
    location.assign(answer?.redirectTo ?? '/');
  } catch (err) {
    showNotice(describeApiError(err));
  }
}

function sendComposed(event?: Event) {
  event?.preventDefault();
  const text = composer.value.trim();
  if (!text || !activeChatId) return;
  const limit = client.limits?.messageMaxLength;
  if (limit !== undefined && [...text].length > limit) {
    showComposerError(`The message is longer than the ${limit} characters allowed.`);
    return;
  }
  showComposerError('');
  client.sendText(activeChatId, text);
  composer.value = '';
  drafts.set(activeChatId, '');
  composer.focus();
}

function showComposerError(text: string) {
  const status = byId('composer-error');
  status.hidden = text === '';
  status.textContent = text;
}

function fileInfoOf(file: File) {
  return { name: file.name, size: file.size, contentType: file.type || 'application/octet-stream' };
}

/**
 * A file becomes a message in the conversation at once ("Uploading… N %", Cancel); a
 * refusal, before the upload (the limits from `hello`) or from the server (storage
 * quota, not a member) or the file store, marks that message "Not sent" with the reason.
 * Cancelled or refused, nothing is sent: the message is only sent once the bytes are stored.
 * A presigned upload cut off half-way leaves no object (S3 stores a PUT whole or not at all).
 */
async function uploadFile(file: File) {
  const chatId = activeChatId;
  if (!chatId) return;
  const info = fileInfoOf(file);
  const clientMsgId = client.startUpload(chatId, info);
  const refusal = fileRefusal(file, client.limits);
  if (refusal) return failUpload(clientMsgId, file.name, { code: 'refused', message: refusal });
  try {
    const { fileKey, upload } = await api.requestUpload(chatId, { name: info.name, type: info.contentType, size: info.size });
    // Cancelled while the upload was being granted.
    if (client.outbox.get(clientMsgId)?.status !== 'uploading') return undefined;
    const handle = uploadBytes(upload, file, (fraction) => showUploadProgress(clientMsgId, fraction));
    uploads.set(clientMsgId, handle);
    await handle.done;
    client.uploadFinished(clientMsgId, fileKey);
  } catch (err) {
    if (err instanceof ApiError && err.code === 'cancelled') return undefined;
    failUpload(
      clientMsgId,
      file.name,
      err instanceof ApiError
        ? { code: err.code, message: err.message, details: err.details }
        : { code: 'error', message: describeApiError(err) },
    );
  } finally {
    uploads.delete(clientMsgId);
  }
  return undefined;
}

function failUpload(
  clientMsgId: string,
  name: string,
  error: { code: string; message: string; details?: Record<string, unknown> | undefined },
) {
  client.uploadFailed(clientMsgId, error);
  announce(`${name} was not sent: ${describeSendError(error)}`);
}

/** Stops the upload and removes its message: nothing was sent, and the file store keeps nothing. */
function cancelUpload(clientMsgId: string) {
  uploads.get(clientMsgId)?.cancel();
  client.discard(clientMsgId);
  composer.focus();
}

// ---------- wiring ----------

function readerCanSee(): boolean {
  return document.visibilityState === 'visible' && document.hasFocus();
}

function wireClient() {
  client.on('connection', (state) => {
    schedule('connection', 'messages', 'header');
    if (state === 'online') byId('notice').hidden = true;
  });
  client.on('me', () => schedule('me', 'list', 'header', 'messages'));
  client.on('quota', () => schedule('me'));
  client.on('presence', () => schedule('list', 'header'));
  client.on('chats', () => {
    schedule('list', 'header');
    // The chat named in the address opens once the chat list knows it (after hello).
    if (!activeChatId && chatIdFromHash()) openChat(chatIdFromHash());
  });
  client.on('messages', (chatId, { older }) => {
    if (chatId === activeChatId) schedule('messages', ...(older ? (['older'] as const) : []));
    schedule('connection');
  });
  client.on('typing', (chatId) => {
    if (chatId === activeChatId) schedule('typing');
  });
  client.on('chat-removed', (chatId) => {
    if (chatId === activeChatId || activeChatId === null) selectChat(null);
    schedule('list', 'header', 'messages');
  });
  client.on('unknown-chat', () => {
    api.chats().then(
      (chats) => client.setChats(chats),
      () => {},
    );
  });
  client.on('notice', ({ message }) => showNotice(message));
  client.on('signed-out', () => showSignedOut('Your session has ended. Sign in again to continue.'));
  client.on('connect-failed', () => {
    // A refused upgrade looks like any network failure to the browser: ask the API whether we are still signed in.
    api.me().catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 401) showSignedOut('Your session has ended. Sign in again to continue.');
    });
  });
}

function wirePage() {
  byId('direct-form').addEventListener('submit', (event) => void startDirect(event));
  byId('group-form').addEventListener('submit', (event) => void createGroup(event));
  byId('add-member-form').addEventListener('submit', (event) => void addMember(event));
  byId('leave-chat').addEventListener('click', () => void leaveChat());
  byId('sign-out').addEventListener('click', () => void signOut());
  byId('notice-close').addEventListener('click', () => (byId('notice').hidden = true));
  const viewer = byId<HTMLDialogElement>('image-viewer');
  byId('image-viewer-close').addEventListener('click', () => viewer.close());
  // A click on the backdrop (the dialog itself, outside its content) closes it too.
  viewer.addEventListener('click', (event) => {
    if (event.target === viewer) viewer.close();
  });
  viewer.addEventListener('close', () => byId<HTMLImageElement>('image-viewer-image').removeAttribute('src'));
  byId('back').addEventListener('click', () => {
    const chatId = activeChatId;
    selectChat(null);
    if (chatId) queueMicrotask(() => document.querySelector<HTMLElement>(`#chat-list [data-chat-id="${CSS.escape(chatId)}"]`)?.focus());
  });
  byId('load-older').addEventListener('click', () => activeChatId && client.loadOlder(activeChatId));
  byId('jump-to-latest').addEventListener('click', () => {
    timeline.scrollToBottom();
    composer.focus();
  });
  byId('messages').addEventListener('scroll', (event) => {
    timeline.onScroll();
    if (activeChatId && (event.currentTarget as HTMLElement).scrollTop < 80) client.loadOlder(activeChatId);
  });

  byId('composer').addEventListener('submit', sendComposed);
  composer.addEventListener('keydown', (event) => {
    // keyCode 229: some input methods report their Enter that way while composing.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && event.keyCode !== 229) sendComposed(event);
  });
  composer.addEventListener('input', () => {
    if (activeChatId) drafts.set(activeChatId, composer.value);
    if (activeChatId && composer.value.trim()) client.notifyTyping(activeChatId);
  });
  composer.addEventListener('paste', (event) => {
    const file = event.clipboardData?.files[0];
    if (!file) return;
    event.preventDefault();
    void uploadFile(file);
  });
  const dropZone = byId('chat-view');
  dropZone.addEventListener('dragover', (event) => {
    if (event.dataTransfer?.types.includes('Files')) event.preventDefault();
  });
  dropZone.addEventListener('drop', (event) => {
    const file = event.dataTransfer?.files[0];
    if (!file) return;
    event.preventDefault();
    void uploadFile(file);
  });
  const fileInput = byId<HTMLInputElement>('file-input');
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    fileInput.value = '';
    if (file) void uploadFile(file);
  });

  window.addEventListener('hashchange', () => openChat(chatIdFromHash()));
  window.addEventListener('popstate', () => openChat(chatIdFromHash()));
  const visibilityChanged = () => {
    client.setVisible(readerCanSee());
    if (document.visibilityState === 'visible') client.reconnectNow();
  };
  document.addEventListener('visibilitychange', visibilityChanged);
  window.addEventListener('focus', visibilityChanged);
  window.addEventListener('blur', () => client.setVisible(false));
  window.addEventListener('online', () => client.reconnectNow());
  window.addEventListener('offline', () => schedule('connection'));
  window.addEventListener('pagehide', () => client.stop());
  // Back from the back-forward cache: the old socket is gone, the page is not.
  window.addEventListener('pageshow', (event) => {
    if (event.persisted && !byId('app').hidden) client.start();
  });
}

async function boot() {
  wirePage();
  wireClient();
  let me;
  try {
    me = await api.me();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return showSignedOut();
    byId('loading-screen').textContent = `huddle could not start: ${describeApiError(err)} Reload the page to try again.`;
    return undefined;
  }
  client.me = me.user;
  if (me.quota) client.quota = me.quota;
  showScreen('app');
  schedule('me', 'connection');
  client.setVisible(readerCanSee());
  client.start();
  return undefined;
}

void boot();
