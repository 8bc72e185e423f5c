/**
 * The page: renders what the ChatClient (chat-client.js) holds and turns what the
 * user does into its calls or HTTP requests (api.js). No framework: a few render
 * functions, batched to one pass per burst of frames.
 */
import { ChatClient, describeSendError } from './chat-client.js';
import { api, ApiError, createDownloadUrls, uploadBytes } from './api.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** Creates an element: `h('li', { class: 'x', dataset: { key } }, 'text', child)`. */
function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') element.className = value;
    else if (name === 'dataset') Object.assign(element.dataset, value);
    else if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (name in element && typeof value !== 'string') element[name] = value;
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

const wsUrl = () => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;

const client = new ChatClient({ url: wsUrl() });
const downloads = createDownloadUrls();
let activeChatId = null;
/** What the user had typed in each chat they switched away from. */
const drafts = new Map();

// ---------- formatting ----------

function formatTime(epochMs) {
  const when = new Date(epochMs);
  const time = when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return when.toDateString() === new Date().toDateString() ? time : `${when.toLocaleDateString()} ${time}`;
}

function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(1)} GB`;
}

function listNames(names) {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

function otherMembers(chat) {
  return (chat.summary.members ?? []).filter((member) => member.userId !== client.me?.userId);
}

function chatTitle(chat) {
  if (chat.summary.kind === 'direct') return otherMembers(chat)[0]?.username ?? chat.summary.title ?? 'Direct chat';
  return chat.summary.title || 'Group';
}

function isOnline(userId) {
  // The server tells us about others; we know about ourselves.
  return userId === client.me?.userId ? client.connection === 'online' : client.isOnline(userId);
}

function presenceDot(userId) {
  const online = isOnline(userId);
  return h(
    'span',
    { class: 'presence', dataset: { online: String(online) } },
    h('span', { class: 'visually-hidden' }, online ? '(online)' : '(offline)'),
  );
}

// ---------- screens and notices ----------

function showScreen(name) {
  $('loading-screen').hidden = name !== 'loading';
  $('signed-out-screen').hidden = name !== 'signed-out';
  $('app').hidden = name !== 'app';
}

function showSignedOut(reason) {
  client.stop();
  const reasonElement = $('signed-out-reason');
  reasonElement.textContent = reason ?? '';
  reasonElement.hidden = !reason;
  showScreen('signed-out');
  // Signed out in the middle of using the page: take the keyboard straight to the way back in.
  if (reason) $('sign-in').focus();
}

let noticeTimer = null;
function showNotice(text) {
  $('notice-text').textContent = text;
  $('notice').hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => ($('notice').hidden = true), 10_000);
}

function describeApiError(err) {
  return err instanceof ApiError ? err.message : 'Something went wrong; try again.';
}

// ---------- rendering, batched ----------

const dirty = { list: false, header: false, messages: false, older: false, typing: false, connection: false, me: false };
let flushQueued = false;

function schedule(...parts) {
  for (const part of parts) dirty[part] = true;
  if (flushQueued) return;
  flushQueued = true;
  queueMicrotask(flush);
}

function flush() {
  flushQueued = false;
  const parts = { ...dirty };
  for (const key of Object.keys(dirty)) dirty[key] = false;
  if (parts.connection) renderConnection();
  if (parts.me) renderMe();
  if (parts.list) renderChatList();
  if (parts.header) renderChatHeader();
  if (parts.messages) renderMessages({ older: parts.older });
  if (parts.typing) renderTyping();
}

function renderConnection() {
  const element = $('connection');
  const state = client.connection;
  element.dataset.state = state;
  const pending = client.outbox.unacked().length;
  const waiting = pending > 0 ? ` ${pending} message${pending === 1 ? '' : 's'} waiting to be sent.` : '';
  const texts = {
    idle: 'Connecting…',
    connecting: 'Connecting…',
    online: 'Connected',
    offline: `Offline; reconnecting…${waiting}`,
    'signed-out': 'Signed out',
    stopped: 'Disconnected',
  };
  element.textContent = texts[state] ?? state;
}

function renderMe() {
  const me = client.me;
  if (!me) return;
  $('me').textContent = `${me.username}${me.tier === 'premium' ? ' (premium)' : ''}`;
  const quota = client.quota;
  $('quota').textContent =
    quota && typeof quota.messagesPerDay === 'number'
      ? `${quota.messagesToday}/${quota.messagesPerDay} messages today · ${formatBytes(quota.storageBytes)} of ${formatBytes(quota.storageLimitBytes)}`
      : '';
}

function renderChatList() {
  const list = $('chat-list');
  const focusedChatId = document.activeElement?.closest?.('#chat-list [data-chat-id]')?.dataset.chatId;
  const chats = client.chatList();
  let totalUnread = 0;
  const items = chats.map((chat) => {
    const { summary } = chat;
    const unread = summary.chatId === activeChatId ? 0 : (summary.unread ?? 0);
    totalUnread += unread;
    const other = summary.kind === 'direct' ? otherMembers(chat)[0] : undefined;
    const preview = summary.lastMessage
      ? `${summary.lastMessage.senderId === client.me?.userId ? 'You: ' : summary.kind === 'group' ? `${client.memberName(chat, summary.lastMessage.senderId)}: ` : ''}${summary.lastMessage.preview}`
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
  $('chat-list-empty').hidden = chats.length > 0;
  document.title = totalUnread > 0 ? `(${totalUnread}) huddle` : 'huddle';
  if (focusedChatId) list.querySelector(`[data-chat-id="${CSS.escape(focusedChatId)}"]`)?.focus();
}

function renderChatHeader() {
  const chat = activeChatId ? client.getChat(activeChatId) : undefined;
  $('no-chat').hidden = Boolean(chat);
  $('chat-view').hidden = !chat;
  document.body.classList.toggle('chat-open', Boolean(chat));
  if (!chat) return;
  const { summary } = chat;
  $('chat-title').textContent = chatTitle(chat);
  const others = otherMembers(chat);
  const subtitle =
    summary.kind === 'direct'
      ? others[0] && isOnline(others[0].userId)
        ? 'online'
        : 'offline'
      : `${summary.members.length} members, ${summary.members.filter((m) => isOnline(m.userId)).length} online`;
  $('chat-subtitle').textContent = subtitle;

  const isGroup = summary.kind === 'group';
  const iCreated = summary.createdBy === client.me?.userId;
  $('member-list').replaceChildren(
    ...summary.members.map((member) =>
      h(
        'li',
        {},
        presenceDot(member.userId),
        h('span', { class: 'name' }, member.username, member.userId === client.me?.userId ? ' (you)' : ''),
        isGroup && iCreated && member.userId !== client.me?.userId
          ? h(
              'button',
              { type: 'button', class: 'link-button', onclick: () => removeMember(member), 'aria-label': `Remove ${member.username}` },
              'Remove',
            )
          : null,
      ),
    ),
  );
  $('add-member-form').hidden = !isGroup;
  $('leave-chat').hidden = !isGroup;
}

function messageSignature(item) {
  return `${item.status}|${item.seq}|${item.error?.message ?? ''}|${item.senderName}`;
}

function renderFile(item) {
  const file = item.file ?? {};
  const label = `${file.name ?? 'file'}${file.size ? ` (${formatBytes(file.size)})` : ''}`;
  if (item.status === 'pending' || item.status === 'failed' || !file.key) return h('p', { class: 'file muted' }, `File: ${label}`);
  const chatId = activeChatId;
  if ((file.contentType ?? '').startsWith('image/')) {
    const img = h('img', { class: 'preview-image', alt: file.name ?? 'image', loading: 'lazy', decoding: 'async' });
    let retried = false;
    img.addEventListener('error', () => {
      // The presigned URL may have expired while the image waited to load: ask once for a fresh one.
      if (retried) return;
      retried = true;
      downloads.forget(file.key);
      downloads.get(chatId, file.key).then(
        (url) => (img.src = url),
        () => {},
      );
    });
    downloads.get(chatId, file.key).then(
      (url) => (img.src = url),
      () => img.replaceWith(h('p', { class: 'file muted' }, `Image unavailable: ${label}`)),
    );
    return h('figure', { class: 'file' }, img, h('figcaption', { class: 'muted' }, label));
  }
  const link = h(
    'a',
    {
      href: '#',
      class: 'file-link',
      onclick: async (event) => {
        event.preventDefault();
        try {
          const url = await downloads.get(chatId, file.key);
          window.open(url, '_blank', 'noopener');
        } catch (err) {
          showNotice(describeApiError(err));
        }
      },
    },
    `Download ${label}`,
  );
  return h('p', { class: 'file' }, link);
}

function fillMessage(li, item) {
  li.dataset.sig = messageSignature(item);
  li.className = `message ${item.mine ? 'mine' : 'theirs'} status-${item.status}`;
  const body = item.kind === 'file' ? renderFile(item) : h('p', { class: 'text' }, item.text ?? '');
  let status = null;
  if (item.status === 'pending')
    status = h('p', { class: 'status muted' }, client.connection === 'online' ? 'Sending…' : 'Waiting for the connection…');
  else if (item.status === 'sent') status = h('p', { class: 'status muted' }, 'Sent');
  else if (item.status === 'failed') {
    status = h(
      'p',
      { class: 'status error' },
      `Not sent: ${describeSendError(item.error)} `,
      h('button', { type: 'button', class: 'link-button', onclick: () => client.retry(item.clientMsgId) }, 'Retry'),
      ' ',
      h('button', { type: 'button', class: 'link-button', onclick: () => client.discard(item.clientMsgId) }, 'Discard'),
    );
  }
  const meta = h(
    'p',
    { class: 'meta' },
    h('span', { class: 'author' }, item.mine ? 'You' : item.senderName),
    ' ',
    item.createdAt ? h('time', { datetime: new Date(item.createdAt).toISOString() }, formatTime(item.createdAt)) : null,
  );
  li.replaceChildren(...[meta, body, status].filter(Boolean));
}

let renderedChatId = null;

function renderMessages({ older = false } = {}) {
  const list = $('message-list');
  const scroller = $('messages');
  const chat = activeChatId ? client.getChat(activeChatId) : undefined;
  if (!chat) {
    list.replaceChildren();
    renderedChatId = null;
    return;
  }
  const switched = renderedChatId !== activeChatId;
  if (switched) list.replaceChildren();
  renderedChatId = activeChatId;

  const distanceFromBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight;
  const heightBefore = scroller.scrollHeight;
  const quiet = switched || older;
  // Opening a chat or loading older pages adds many items at once: not something to read out.
  if (quiet) list.setAttribute('aria-live', 'off');

  const items = client.messagesFor(activeChatId);
  const existing = new Map([...list.children].map((li) => [li.dataset.key, li]));
  const wanted = new Set();
  let cursor = list.firstElementChild;
  let addedOwn = false;
  for (const item of items) {
    wanted.add(item.key);
    let li = existing.get(item.key);
    if (!li) {
      li = h('li', { dataset: { key: item.key } });
      fillMessage(li, item);
      if (item.mine) addedOwn = true;
    } else if (li.dataset.sig !== messageSignature(item)) {
      fillMessage(li, item);
    }
    if (li === cursor) cursor = cursor.nextElementSibling;
    else list.insertBefore(li, cursor);
  }
  for (const li of [...list.children]) if (!wanted.has(li.dataset.key)) li.remove();

  const timeline = chat.timeline;
  $('load-older').hidden = !(timeline.loaded && timeline.hasMore);
  $('history-start').hidden = !(timeline.loaded && !timeline.hasMore);
  const seen = client.seenBy(activeChatId);
  $('seen-by').hidden = seen.length === 0;
  $('seen-by').textContent = chat.summary.kind === 'direct' ? 'Seen' : `Seen by ${listNames(seen)}`;

  if (older) scroller.scrollTop += scroller.scrollHeight - heightBefore;
  else if (switched || addedOwn || distanceFromBottom < 48) scroller.scrollTop = scroller.scrollHeight;
  if (quiet) requestAnimationFrame(() => list.setAttribute('aria-live', 'polite'));

  // A first page shorter than the view leaves nothing to scroll: fetch older ones until it fills.
  if (timeline.loaded && timeline.hasMore && scroller.scrollHeight <= scroller.clientHeight) client.loadOlder(activeChatId);
}

function renderTyping() {
  const names = activeChatId ? client.typingNames(activeChatId) : [];
  $('typing').textContent =
    names.length === 0
      ? ''
      : names.length > 3
        ? 'Several people are typing…'
        : `${listNames(names)} ${names.length === 1 ? 'is' : 'are'} typing…`;
}

// ---------- navigation ----------

function chatIdFromHash() {
  const match = /^#chat\/(.+)$/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

function selectChat(chatId, { focusComposer = false } = {}) {
  const target = chatId ? `#chat/${encodeURIComponent(chatId)}` : '';
  if (location.hash !== target) {
    if (target) location.hash = target;
    else history.pushState(null, '', location.pathname + location.search);
  }
  openChat(chatId);
  if (focusComposer && chatId) $('composer-input').focus();
}

function openChat(chatId) {
  const known = chatId && client.getChat(chatId) ? chatId : null;
  if (known === activeChatId) return;
  const composer = /** @type {HTMLTextAreaElement} */ ($('composer-input'));
  if (activeChatId) drafts.set(activeChatId, composer.value);
  activeChatId = known;
  client.openChat(known);
  composer.value = (known && drafts.get(known)) || '';
  autosize(composer);
  $('members-details').open = false;
  schedule('list', 'header', 'messages', 'typing');
}

// ---------- actions ----------

async function startDirect(event) {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('direct-username'));
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

async function createGroup(event) {
  event.preventDefault();
  const title = /** @type {HTMLInputElement} */ ($('group-title')).value.trim();
  const members = /** @type {HTMLInputElement} */ ($('group-members')).value
    .split(/[\s,]+/)
    .map((name) => name.trim())
    .filter(Boolean);
  try {
    const chat = await api.createGroup(title, members);
    client.upsertChat(chat);
    /** @type {HTMLFormElement} */ ($('group-form')).reset();
    /** @type {HTMLDetailsElement} */ ($('group-details')).open = false;
    selectChat(chat.chatId, { focusComposer: true });
  } catch (err) {
    showNotice(describeApiError(err));
  }
}

async function addMember(event) {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($('add-member-username'));
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

async function removeMember(member) {
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

function sendComposed(event) {
  event?.preventDefault();
  const input = /** @type {HTMLTextAreaElement} */ ($('composer-input'));
  const text = input.value.trim();
  if (!text || !activeChatId) return;
  client.sendText(activeChatId, text);
  input.value = '';
  autosize(input);
}

async function uploadFile(file) {
  const chatId = activeChatId;
  if (!chatId) return;
  const status = $('upload-status');
  status.hidden = false;
  status.classList.remove('error');
  status.textContent = `Uploading ${file.name}…`;
  try {
    const { fileKey, upload } = await api.requestUpload(chatId, file);
    await uploadBytes(upload, file);
    client.sendFile(chatId, fileKey, { name: file.name, size: file.size, contentType: file.type || 'application/octet-stream' });
    status.hidden = true;
  } catch (err) {
    status.classList.add('error');
    status.textContent = `${file.name} was not sent: ${describeApiError(err)}`;
  }
}

function autosize(textarea) {
  textarea.rows = Math.min(6, Math.max(1, textarea.value.split('\n').length));
}

// ---------- wiring ----------

function wireClient() {
  client.on('connection', (state) => {
    schedule('connection', 'messages', 'header');
    if (state === 'online') $('notice').hidden = true;
  });
  client.on('me', () => schedule('me', 'list', 'header', 'messages'));
  client.on('quota', () => schedule('me'));
  client.on('presence', () => schedule('list', 'header'));
  client.on('chats', () => {
    schedule('list', 'header');
    // The chat named in the address opens once the chat list knows it (after hello).
    if (!activeChatId && chatIdFromHash()) openChat(chatIdFromHash());
  });
  client.on('messages', (chatId, { older } = {}) => {
    if (chatId === activeChatId) schedule('messages', ...(older ? ['older'] : []));
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
  client.on('connect-failed', async () => {
    // A refused upgrade looks like any network failure to the browser: ask the API whether we are still signed in.
    try {
      await api.me();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) showSignedOut('Your session has ended. Sign in again to continue.');
    }
  });
}

function wirePage() {
  $('direct-form').addEventListener('submit', startDirect);
  $('group-form').addEventListener('submit', createGroup);
  $('add-member-form').addEventListener('submit', addMember);
  $('leave-chat').addEventListener('click', leaveChat);
  $('notice-close').addEventListener('click', () => ($('notice').hidden = true));
  $('back').addEventListener('click', () => {
    const chatId = activeChatId;
    selectChat(null);
    if (chatId) queueMicrotask(() => document.querySelector(`#chat-list [data-chat-id="${CSS.escape(chatId)}"]`)?.focus());
  });
  $('load-older').addEventListener('click', () => activeChatId && client.loadOlder(activeChatId));
  $('messages').addEventListener('scroll', (event) => {
    if (activeChatId && /** @type {HTMLElement} */ (event.currentTarget).scrollTop < 80) client.loadOlder(activeChatId);
  });

  const composer = /** @type {HTMLTextAreaElement} */ ($('composer-input'));
  $('composer').addEventListener('submit', sendComposed);
  composer.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) sendComposed(event);
  });
  composer.addEventListener('input', () => {
    autosize(composer);
    if (activeChatId && composer.value.trim()) client.notifyTyping(activeChatId);
  });
  const fileInput = /** @type {HTMLInputElement} */ ($('file-input'));
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    fileInput.value = '';
    if (file) uploadFile(file);
  });

  window.addEventListener('hashchange', () => openChat(chatIdFromHash()));
  window.addEventListener('popstate', () => openChat(chatIdFromHash()));
  document.addEventListener('visibilitychange', () => {
    client.setVisible(document.visibilityState === 'visible');
    if (document.visibilityState === 'visible') client.reconnectNow();
  });
  window.addEventListener('online', () => client.reconnectNow());
  window.addEventListener('pagehide', () => client.stop());
  // Back from the back-forward cache: the old socket is gone, the page is not.
  window.addEventListener('pageshow', (event) => {
    if (event.persisted && !$('app').hidden) client.start();
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
    $('loading-screen').textContent = `huddle could not start: ${describeApiError(err)} Reload the page to try again.`;
    return undefined;
  }
  client.me = me.user;
  if (me.quota) client.quota = me.quota;
  showScreen('app');
  schedule('me', 'connection');
  client.setVisible(document.visibilityState === 'visible');
  client.start();
  return undefined;
}

boot();
