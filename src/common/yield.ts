/**
 * Lets the event loop run (sockets, timers, signals) before going on. SQLite statements are
 * synchronous calls (better-sqlite3), so a long chain of them — a 1,000-entry transaction, a batch
 * of group-committed writes — would otherwise run start to end without another request, a health
 * check or SIGTERM being looked at.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
