import fp from 'fastify-plugin';
import type { Config } from '../config.js';
import { createChatsService, type ChatsService } from '../domain/chats/chats-service.js';
import { createMessagesService, type MessagesService } from '../domain/messages/messages-service.js';
import { createPresenceService, type PresenceService } from '../domain/presence/presence-service.js';
import { createQuotasService, type QuotasService } from '../domain/quotas/quotas-service.js';
import { createFilesService, type FilesService } from '../domain/files/files-service.js';
import { createS3Blob } from '../adapters/s3/s3-blob-store.js';
import { createPendingSweeper } from '../domain/files/pending-sweeper.js';
import { createChatsRepository } from '../adapters/dynamodb/chats-repository.js';
import { createMessagesRepository } from '../adapters/dynamodb/messages-repository.js';
import { createQuotasRepository } from '../adapters/dynamodb/quotas-repository.js';
import { busChatEvents } from '../transport/realtime/event-publisher.js';
import { userChannel } from '../domain/fanout/ports.js';
import type { ChatEvents } from '../domain/events/chat-events.js';
import type { ChatsRepository } from '../domain/chats/chat-rules.js';

export interface Services {
  events: ChatEvents;
  chatsRepository: ChatsRepository;
  chats: ChatsService;
  messages: MessagesService;
  quotas: QuotasService;
  files: FilesService;
  presence: PresenceService;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

/** Builds the domain services from the adapters (store, blob, bus); no routes. */
export default fp(
  async (app, opts: { config: Config }) => {
    const { config } = opts;
    const clock = () => Date.now();
    const events = busChatEvents(app.bus);
    const onBackgroundError = (err: unknown, what: string) => app.log.error({ err }, `${what} failed`);

    const chatsRepository = createChatsRepository(app.store.doc, app.store.tables);
    const chats = createChatsService({
      chats: chatsRepository,
      users: app.store.users,
      events,
      groupMaxMembers: config.chats.groupMaxMembers,
      clock,
    });
    const quotas = createQuotasService({
      repository: createQuotasRepository(app.store.doc, app.store.tables.users),
      limits: config.quotas,
      clock,
      publishQuota: (userId, quota) => app.bus.publish(userChannel(userId), { type: 'quota', quota }),
    });
    const blob = createS3Blob(app.blob.s3, app.blob.bucket);
    const files = createFilesService({
      blob,
      quotas,
      isMember: (chatId, userId) => chats.isMember(chatId, userId),
      policy: { maxBytes: config.files.maxBytes, allowedTypes: config.files.allowedTypes, uploadTtlS: 300, downloadTtlS: 900 },
      clock,
    });
    const messages = createMessagesService({
      chats: chatsRepository,
      messages: createMessagesRepository(app.store.doc, app.store.tables.messages),
      quotas,
      files,
      events,
      messageMaxLength: config.chats.messageMaxLength,
      syncMaxMessages: config.realtime.syncMaxMessages,
      clock,
      onBackgroundError,
    });
    const presence = createPresenceService({
      store: app.presence,
      events,
      chatIdsOf: (userId) => chatsRepository.chatIdsOf(userId),
      ttlMs: config.realtime.presenceTtlMs,
      onError: onBackgroundError,
    });
    if (config.mode === 'local') {
      // S3 expires unsent uploads with a lifecycle rule; the emulator has none, so sweep.
      const sweeper = createPendingSweeper({ blob, olderThanMs: 15 * 60_000, intervalMs: 5 * 60_000, logger: app.log });
      sweeper.start();
      app.addHook('onClose', () => sweeper.stop());
    }
    app.decorate('services', { events, chatsRepository, chats, messages, quotas, files, presence });
  },
  { name: 'services', dependencies: ['aws', 'bus'] },
);
