/** The timer functions the protocol logic takes as an argument, so tests can drive a manual clock. */
/** Browsers answer a number, Node a Timeout object, test clocks whatever they like. */
export type TimerId = number | object;

export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as Parameters<typeof clearTimeout>[0]),
};
