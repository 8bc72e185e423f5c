import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import {
  AddMemberBody,
  ChatListReply,
  ChatParams,
  ChatReply,
  CreateGroupBody,
  HistoryQuery,
  HistoryReply,
  MemberParams,
  OpenDirectBody,
} from './schemas.js';
import type { ChatsService } from '../../domain/chats/chats-service.js';
import type { MessagesService } from '../../domain/messages/messages-service.js';
import { HISTORY_PAGE_DEFAULT } from '../../shared/frames.js';

const actor = (request: FastifyRequest) => ({ userId: request.user!.userId, username: request.user!.username });

/** Chats and their history over HTTP; the same services answer the WebSocket frames. */
const chatsRoutes: FastifyPluginAsync<{ chats: ChatsService; messages: MessagesService }> = async (app, { chats, messages }) => {
  app.addHook('preValidation', app.requireUser);

  app.get('/chats', { schema: { response: { 200: ChatListReply } } }, async (request) => ({
    chats: await chats.list(request.user!.userId),
  }));

  app.post<{ Body: OpenDirectBody }>(
    '/chats/direct',
    { schema: { body: OpenDirectBody, response: { 200: ChatReply } } },
    async (request) => ({ chat: await chats.openDirect(actor(request), request.body.username) }),
  );

  app.post<{ Body: CreateGroupBody }>(
    '/chats/group',
    { schema: { body: CreateGroupBody, response: { 201: ChatReply } } },
    async (request, reply) => {
      const chat = await chats.createGroup(actor(request), request.body.title, request.body.members);
      return reply.status(201).send({ chat });
    },
  );

  app.post<{ Params: ChatParams; Body: AddMemberBody }>(
    '/chats/:chatId/members',
    { schema: { params: ChatParams, body: AddMemberBody, response: { 200: ChatReply } } },
    async (request) => ({ chat: await chats.addMember(actor(request), request.params.chatId, request.body.username) }),
  );

  app.delete<{ Params: MemberParams }>(
    '/chats/:chatId/members/:userId',
    { schema: { params: MemberParams, response: { 200: ChatReply } } },
    async (request) => ({ chat: await chats.removeMember(actor(request), request.params.chatId, request.params.userId) }),
  );

  app.post<{ Params: ChatParams }>('/chats/:chatId/leave', { schema: { params: ChatParams } }, async (request, reply) => {
    await chats.leave(actor(request), request.params.chatId);
    return reply.status(204).send();
  });

  app.get<{ Params: ChatParams; Querystring: HistoryQuery }>(
    '/chats/:chatId/messages',
    { schema: { params: ChatParams, querystring: HistoryQuery, response: { 200: HistoryReply } } },
    async (request) =>
      messages.history(request.user!.userId, request.params.chatId, request.query.before, request.query.limit ?? HISTORY_PAGE_DEFAULT),
  );
};

export default chatsRoutes;
