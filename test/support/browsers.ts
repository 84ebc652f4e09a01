// The two browser engines the browser tests run in, behind one small
// interface: Debian's Chromium through playwright-core (CDP), Debian's
// firefox-esr through puppeteer-core over WebDriver BiDi (no geckodriver).
// Neither library downloads a browser. One launch per engine and test file;
// each scenario opens a context of its own, so no cache carries over.
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import puppeteer from 'puppeteer-core'
import type { Tap } from '../helper.js'
import { waitUntil } from './wait.js'

export type EngineName = 'chromium' | 'firefox'
export const ENGINES: readonly EngineName[] = ['chromium', 'firefox']

const EXECUTABLES: Record<EngineName, string> = {
  chromium: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  firefox: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr'
}
const PACKAGES: Record<EngineName, string> = { chromium: 'chromium', firefox: 'firefox-esr' }

/** Why `engine` cannot run here, or undefined. */
export function engineMissing (engine: EngineName): string | undefined {
  const path = EXECUTABLES[engine]
  if (existsSync(path)) return undefined
  return `${engine} not found at ${path}: install Debian's ${PACKAGES[engine]} package (or set ${engine === 'chromium' ? 'CHROMIUM_PATH' : 'FIREFOX_PATH'})`
}

export interface SavedFile {
  name: string
  bytes: Buffer
}

export interface Tab {
  /** Runs `fn(arg)` in the page; what it returns must survive structured serialisation. */
  evaluate: <A, R>(fn: (arg: A) => R | Promise<R>, arg: A) => Promise<R>
  /** Clicks `selector` and waits for the download it starts to be saved. */
  download: (selector: string) => Promise<SavedFile>
}

export interface Browser {
  engine: EngineName
  /** The browser's own name for its version. */
  version: string
  /** A tab at `url` in a fresh context (no HTTP cache, no preflight cache, no cookies), closed in teardown. */
  open: (t: Tap, url: string) => Promise<Tab>
  /** What a page reads from a fetch that the network or CORS refused. */
  fetchFailure: string
}

export interface LaunchOptions {
  /** Host names the browser resolves to 127.0.0.1 (not loopback to it: it treats them as any other host). */
  loopbackNames?: readonly string[]
  /** Accept any certificate (the test's self-signed one). */
  anyCertificate?: boolean
}

// Without the background-networking flags Chromium keeps trying to reach Google's hosts.
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** Launches `engine`, once for the file; closed in teardown. */
export async function launchBrowser (t: Tap, engine: EngineName, options: LaunchOptions = {}): Promise<Browser> {
  return engine === 'chromium' ? await launchChromium(t, options) : await launchFirefox(t, options)
}

async function launchChromium (t: Tap, { loopbackNames = [], anyCertificate = false }: LaunchOptions): Promise<Browser> {
  const args = [...CHROMIUM_FLAGS]
  if (loopbackNames.length > 0) args.push(`--host-resolver-rules=${loopbackNames.map((name) => `MAP ${name} 127.0.0.1`).join(',')}`)
  const browser = await chromium.launch({ executablePath: EXECUTABLES.chromium, headless: true, args })
  t.teardown(async () => { await browser.close() })
  return {
    engine: 'chromium',
    version: browser.version(),
    fetchFailure: 'TypeError: Failed to fetch',
    open: async (t, url) => {
      const context = await browser.newContext({ acceptDownloads: true, ignoreHTTPSErrors: anyCertificate })
      t.teardown(async () => { await context.close() })
      const page = await context.newPage()
      await page.goto(url)
      return {
        // The libraries' own types unwrap handles, which these tests never pass.
        evaluate: async <A, R>(fn: (arg: A) => R | Promise<R>, arg: A) => await page.evaluate(fn as never, arg) as R,
        download: async (selector) => {
          const [download] = await Promise.all([page.waitForEvent('download'), page.click(selector)])
          const failure = await download.failure()
          if (failure !== null) throw new Error(`the download failed: ${failure}`)
          return { name: download.suggestedFilename(), bytes: await readFile(await download.path()) }
        }
      }
    }
  }
}

async function launchFirefox (t: Tap, { loopbackNames = [], anyCertificate = false }: LaunchOptions): Promise<Browser> {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: EXECUTABLES.firefox,
    headless: true,
    protocol: 'webDriverBiDi',
    acceptInsecureCerts: anyCertificate,
    extraPrefsFirefox: {
      'network.dns.localDomains': loopbackNames.join(','),
      // A plain http: URL is asked for as it is, not tried over https: first.
      'dom.security.https_first': false,
      'dom.security.https_first_schemeless': false
    }
  })
  t.teardown(async () => { await browser.close() })
  const downloads = await mkdtemp(join(tmpdir(), 'replay-gate-firefox-'))
  t.teardown(async () => { await rm(downloads, { recursive: true, force: true }) })
  let contexts = 0
  return {
    engine: 'firefox',
    version: await browser.version(),
    fetchFailure: 'TypeError: NetworkError when attempting to fetch resource.',
    open: async (t, url) => {
      // Each context saves into a folder of its own (WebDriver BiDi's browser.setDownloadBehavior).
      const folder = join(downloads, String(contexts++))
      const context = await browser.createBrowserContext({ downloadBehavior: { policy: 'allow', downloadPath: folder } })
      t.teardown(async () => { await context.close() })
      const page = await context.newPage()
      await page.goto(url)
      return {
        evaluate: async <A, R>(fn: (arg: A) => R | Promise<R>, arg: A) => await page.evaluate(fn as never, arg) as R,
        download: async (selector) => {
          await page.click(selector)
          // Firefox writes NAME.part and renames it to NAME once the download is complete.
          const name = await waitUntil(async () => {
            const names = await readdir(folder).catch(() => [])
            return names.length === 1 && !(names[0] as string).endsWith('.part') ? names[0] : undefined
          }, { timeoutMs: 30_000, everyMs: 50 })
          if (name === undefined) throw new Error(`Firefox saved no download in 30 s (${folder} has: ${(await readdir(folder).catch(() => [])).join(', ')})`)
          return { name, bytes: await readFile(join(folder, name)) }
        }
      }
    }
  }
}

export interface PageServer {
  /** http://127.0.0.1:PORT */
  origin: string
  port: number
  /** The page answered at `path` (every other path: the one set for "/"). */
  set: (path: string, html: string) => void
}

/** The pages' own origin: a tiny server of HTML set by the test. Closed in teardown. */
export async function servePages (t: Tap): Promise<PageServer> {
  const pages = new Map<string, string>()
  const server = createServer((request, response) => {
    const html = pages.get(new URL(request.url ?? '/', 'http://page').pathname) ?? pages.get('/') ?? ''
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  const { port } = server.address() as AddressInfo
  return { origin: `http://127.0.0.1:${port}`, port, set: (path, html) => { pages.set(path, html) } }
}
