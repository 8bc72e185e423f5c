// Types for the TypeScript tests; the browser loads reorder-buffer.js as it is.
export interface TimelineMessage {
  chatId: string;
  seq: number;
  senderId: string;
  clientMsgId?: string;
  kind?: 'text' | 'file';
  text?: string;
  file?: { key: string; name: string; size: number; contentType: string };
  createdAt?: number;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export declare class ChatTimeline {
  constructor(options: { onGap: (lastSeq: number) => void; gapWaitMs?: number; timers?: Timers });
  readonly bySeq: Map<number, TimelineMessage>;
  lastSeq: number | null;
  hasMore: boolean;
  readonly loaded: boolean;
  add(message: TimelineMessage): boolean;
  setBase(messages: TimelineMessage[], hasMore: boolean): void;
  addOlder(messages: TimelineMessage[], hasMore: boolean): number;
  acceptThrough(serverLastSeq: number): void;
  reset(): void;
  shown(): TimelineMessage[];
  oldestSeq(): number | null;
  heldCount(): number;
  dispose(): void;
}
