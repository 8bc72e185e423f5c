// Types for the TypeScript tests; the browser loads outbox.js as it is.
export interface OutboxEntry {
  clientMsgId: string;
  chatId: string;
  text?: string;
  fileKey?: string;
  file?: { name: string; size: number; contentType: string };
  status: 'pending' | 'sent' | 'failed';
  seq: number | null;
  createdAt: number | null;
  error: { code: string; message: string; details?: Record<string, unknown> } | null;
  writtenAt: number;
}

export declare function newClientMsgId(): string;

export declare class Outbox {
  constructor(options?: { newId?: () => string; now?: () => number });
  add(chatId: string, content: { text?: string; fileKey?: string; file?: OutboxEntry['file'] }): OutboxEntry;
  get(clientMsgId: string): OutboxEntry | undefined;
  frameFor(entry: OutboxEntry): { type: 'send'; id: string; chatId: string; clientMsgId: string; text?: string; fileKey?: string };
  unacked(): OutboxEntry[];
  forChat(chatId: string): OutboxEntry[];
  ack(clientMsgId: string, seq: number, createdAt: number): OutboxEntry | undefined;
  fail(clientMsgId: string, error: NonNullable<OutboxEntry['error']>): OutboxEntry | undefined;
  retry(clientMsgId: string): OutboxEntry | undefined;
  remove(clientMsgId: string): boolean;
  removeChat(chatId: string): void;
  settle(chatId: string, isShown: (seq: number) => boolean): number;
}
