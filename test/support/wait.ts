// Waiting on an event instead of for a fixed time.
import { setTimeout as sleep } from 'node:timers/promises'

export { sleep }

/**
 * Polls `probe` until it returns something other than undefined (or the time
 * is up, then undefined). A probe returning null stops the wait early.
 */
export async function waitUntil<T> (probe: () => T | undefined | Promise<T | undefined>, { timeoutMs = 10_000, everyMs = 20 } = {}): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined || Date.now() >= deadline) return value
    await sleep(everyMs)
  }
}
