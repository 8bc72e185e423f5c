import type { FastifyPluginAsync } from 'fastify';
import type { ChatsService } from '../../domain/chats/chats-service.js';
import type { FilesService } from '../../domain/files/files-service.js';
import type { MessagesService } from '../../domain/messages/messages-service.js';
import chatsRoutes from './chats-routes.js';
import filesRoutes from './files-routes.js';

export interface ApiRoutesOptions {
  chats: ChatsService;
  messages: MessagesService;
  files: FilesService;
}

/** Everything under /api that is not sign-in. */
const apiRoutes: FastifyPluginAsync<ApiRoutesOptions> = async (app, { chats, messages, files }) => {
  await app.register(chatsRoutes, { chats, messages });
  await app.register(filesRoutes, { files });
};

export default apiRoutes;
