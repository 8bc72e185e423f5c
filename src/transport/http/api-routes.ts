import type { FastifyPluginAsync } from 'fastify';
import chatsRoutes from './chats-routes.js';
import filesRoutes from './files-routes.js';

/** Everything under /api that is not sign-in. */
const apiRoutes: FastifyPluginAsync = async (app) => {
  await app.register(chatsRoutes);
  await app.register(filesRoutes);
};

export default apiRoutes;
