// A clock that tests move instead of sleeping: real time plus an offset.
import { setTimeout as sleep } from 'node:timers/promises'

export class TestClock {
  private offset = 0

  readonly now = (): number => performance.now() + this.offset

  /**
   * Moves the clock ahead. lru-cache keeps the time it last read for a
   * millisecond, so a few real ones pass too.
   */
  async advance (ms: number): Promise<void> {
    this.offset += ms
    await sleep(3)
  }
}
