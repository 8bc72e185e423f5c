/** How times, lists of people and sizes read on the page. */

export function formatTime(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function formatFullTime(epochMs: number): string {
  return new Date(epochMs).toLocaleString([], { dateStyle: 'full', timeStyle: 'medium' });
}

/** "Today", "Yesterday", or the date: the day separator's label. */
export function formatDay(epochMs: number, now = Date.now()): string {
  const day = new Date(epochMs);
  const today = new Date(now);
  const yesterday = new Date(now);
  yesterday.setDate(today.getDate() - 1);
  if (day.toDateString() === today.toDateString()) return 'Today';
  if (day.toDateString() === yesterday.toDateString()) return 'Yesterday';
  return day.toLocaleDateString([], { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
}

/** "alice", "alice and bob", "alice, bob and carol". */
export function listNames(names: readonly string[]): string {
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** "alice is typing…", "alice, bob and 2 others are typing…": at most two names. */
export function typingSentence(names: readonly string[]): string {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length <= 3) return `${listNames(names)} are typing…`;
  const others = names.length - 2;
  return `${names[0]}, ${names[1]} and ${others} others are typing…`;
}
