import type { FastifyPluginAsync } from 'fastify';
import { DownloadQuery, DownloadReply, FileChatParams, UploadBody, UploadReply } from './files-schemas.js';

/**
 * Presigned uploads and downloads of a chat's files (under the `/api` prefix). The
 * file message itself is a WebSocket `send` with the upload's `fileKey`.
 */
const filesRoutes: FastifyPluginAsync = async (app) => {
  const { files } = app.services;

  app.post<{ Params: FileChatParams; Body: UploadBody }>(
    '/chats/:chatId/files',
    { preValidation: app.requireUser, schema: { params: FileChatParams, body: UploadBody, response: { 200: UploadReply } } },
    async (request) => files.createUpload(request.user!.userId, request.params.chatId, request.body),
  );

  app.get<{ Params: FileChatParams; Querystring: DownloadQuery }>(
    '/chats/:chatId/files/download',
    { preValidation: app.requireUser, schema: { params: FileChatParams, querystring: DownloadQuery, response: { 200: DownloadReply } } },
    async (request) => files.downloadUrl(request.user!.userId, request.params.chatId, request.query.key),
  );
};

export default filesRoutes;
