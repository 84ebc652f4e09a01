// What replays:compress tells the operator: on a terminal a progress bar
// (games done of all, bytes read, rate, time left); elsewhere (a log, cron's
// mail) a line per variant made; and a summary at the end.
import cliProgress from 'cli-progress'
import type { ContentCoding } from '../model/replay-object.js'

export interface Output {
  log: (line: string) => void
  error: (line: string) => void
}

/** Where the progress bar is drawn: a terminal's stream. */
export interface ProgressStream {
  isTTY?: boolean
  write: (text: string) => unknown
}

interface CodingTotals { made: number, before: number, after: number }

export class Report {
  readonly failures: string[] = []
  private readonly totals = new Map<ContentCoding, CodingTotals>()
  private made = 0
  private skipped = 0
  private games = 0
  private bytes = 0
  private readonly started = performance.now()
  private readonly bar: cliProgress.SingleBar | undefined

  constructor (private readonly out: Output, stream: ProgressStream | undefined, total: number) {
    if (stream?.isTTY !== true) return
    this.bar = new cliProgress.SingleBar({
      stream: stream as NodeJS.WritableStream,
      format: 'replays:compress {bar} {value}/{total} games | {read} read | {rate} | ETA {eta_formatted} | {failed} failed',
      hideCursor: true,
      etaBuffer: 20,
      fps: 5
    }, cliProgress.Presets.shades_classic)
    this.bar.start(total, 0, this.payload())
  }

  /** Identity bytes read (each coding reads the replay once). */
  read (count: number): void {
    this.bytes += count
    this.bar?.update(this.payload())
  }

  variantMade (gameId: string, coding: ContentCoding, before: number, after: number, seconds: number, key: string): void {
    this.made++
    const totals = this.totals.get(coding) ?? { made: 0, before: 0, after: 0 }
    this.totals.set(coding, { made: totals.made + 1, before: totals.before + before, after: totals.after + after })
    if (this.bar === undefined) this.out.log(`game ${gameId}: ${coding} ${size(before)} → ${size(after)} (${ratio(before, after)}, ${seconds.toFixed(1)} s) ${key}`)
  }

  variantSkipped (gameId: string, coding: ContentCoding, before: number, after: number): void {
    this.skipped++
    this.say(`game ${gameId}: ${coding} skipped: ${after} bytes is not smaller than the replay's ${before}; nothing recorded`)
  }

  failed (gameId: string, reason: string): void {
    this.failures.push(`game ${gameId}: ${reason}`)
    if (this.bar === undefined) this.out.error(`game ${gameId} failed: ${reason}`)
  }

  gameDone (): void {
    this.games++
    this.bar?.increment(1, this.payload())
  }

  /** The summary; the bar is closed first. */
  finish (interrupted: boolean): void {
    this.bar?.stop()
    const failed = this.failures.length
    this.out.log(`${interrupted ? 'Interrupted after' : 'Done:'} ${this.games} game(s), ${this.made} variant(s) made, ${this.skipped} skipped (not smaller), ${failed} failed, in ${((performance.now() - this.started) / 1000).toFixed(1)} s`)
    for (const [coding, { made, before, after }] of this.totals) {
      this.out.log(`  ${coding}: ${made} made, ${size(before)} → ${size(after)} (${ratio(before, after)})`)
    }
    if (failed > 0) this.out.error(`Failed (${failed}):\n${this.failures.map((line) => `  ${line}`).join('\n')}`)
  }

  private say (line: string): void {
    // Above the bar on a terminal: cli-progress redraws it on the next update.
    if (this.bar !== undefined) this.out.log(`\r\x1b[K${line}`)
    else this.out.log(line)
  }

  private payload (): Record<string, string | number> {
    const seconds = Math.max((performance.now() - this.started) / 1000, 0.001)
    return { read: size(this.bytes), rate: `${size(this.bytes / seconds)}/s`, failed: this.failures.length }
  }
}

export function size (bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(2)} MiB`
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`
}

function ratio (before: number, after: number): string {
  return `${(before / after).toFixed(1)}×`
}
