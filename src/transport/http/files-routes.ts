import type { FastifyPluginAsync } from 'fastify';
import type { FilesService } from '../../domain/files/files-service.js';
import { ChatParams, DownloadQuery, DownloadReply, UploadBody, UploadReply } from './schemas.js';

/**
 * Presigned uploads and downloads of a chat's files (under the `/api` prefix). The
 * file message itself is a WebSocket `send` with the upload's `fileKey`.
 */
const filesRoutes: FastifyPluginAsync<{ files: FilesService }> = async (app, { files }) => {
  app.post<{ Params: ChatParams; Body: UploadBody }>(
    '/chats/:chatId/files',
    { preValidation: app.requireUser, schema: { params: ChatParams, body: UploadBody, response: { 200: UploadReply } } },
    async (request) => files.createUpload(request.user!.userId, request.params.chatId, request.body),
  );

  app.get<{ Params: ChatParams; Querystring: DownloadQuery }>(
    '/chats/:chatId/files/download',
    { preValidation: app.requireUser, schema: { params: ChatParams, querystring: DownloadQuery, response: { 200: DownloadReply } } },
    async (request) => files.downloadUrl(request.user!.userId, request.params.chatId, request.query.key),
  );
};

export default filesRoutes;
