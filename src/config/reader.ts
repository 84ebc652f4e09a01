// Reading settings from the environment: each reader checks one value and,
// when it is bad, records a problem under the setting's name, so that every
// bad setting is reported at once.

export type Env = Record<string, string | undefined>

export class ConfigError extends Error {
  readonly problems: string[]
  constructor (problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

export class Reader {
  private readonly problems: Array<{ setting: string, text: string }> = []
  /** Every setting asked for: what the service knows. */
  readonly names = new Set<string>()
  /** Settings that work but may not do what the operator wants: logged at start. */
  readonly warnings: string[] = []

  constructor (private readonly env: Env) {}

  /** Records a problem with `setting`; the text starts with the setting's name. */
  problem (setting: string, text: string): void {
    this.problems.push({ setting, text })
  }

  /** For a message that says `setting` is missing: the look-alike variables set instead (see setInstead). */
  setInstead (setting: string): string {
    return setInstead(this.env, setting, this.names)
  }

  /** Records a warning: the service starts, and says it. */
  warn (text: string): void {
    this.warnings.push(text)
  }

  /** A problem was recorded for this setting. */
  failed (setting: string): boolean {
    return this.problems.some((p) => p.setting === setting)
  }

  /** Throws a ConfigError listing every problem, if there is any. */
  check (): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems.map((p) => p.text))
  }

  /** A set value, trimmed; undefined when unset. A blank one is a problem (see `blank`). */
  string (name: string): string | undefined {
    this.names.add(name)
    const value = this.env[name]?.trim()
    if (value === '') this.blank(name)
    return value === undefined || value === '' ? undefined : value
  }

  /** The value as it is, untrimmed; unset is ''. A blank one is a problem (see `blank`). */
  raw (name: string): string {
    this.names.add(name)
    const value = this.env[name]
    if (value !== undefined && value.trim() === '') {
      this.blank(name)
      return ''
    }
    return value ?? ''
  }

  /**
   * Empty or only spaces is never taken for unset: an empty variable in the
   * environment wins over .env, and a secret that did not arrive often comes
   * as an empty one; either would silently run on a default.
   */
  private blank (name: string): void {
    if (!this.failed(name)) this.problem(name, `${name} is set but blank: give it a value, or unset it for its default`)
  }

  integer (name: string, fallback: number, min: number, max: number): number {
    const raw = this.string(name)
    if (raw === undefined) return fallback
    if (!/^[0-9]+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      this.problem(name, `${name} must be a whole number from ${min} to ${max}; got ${JSON.stringify(raw)}`)
      return fallback
    }
    return Number(raw)
  }

  optionalInteger (name: string, min: number, max: number): number | undefined {
    return this.string(name) === undefined ? undefined : this.integer(name, min, min, max)
  }

  boolean (name: string, fallback: boolean): boolean {
    const raw = this.string(name)?.toLowerCase()
    if (raw === undefined) return fallback
    if (['true', '1', 'yes'].includes(raw)) return true
    if (['false', '0', 'no'].includes(raw)) return false
    this.problem(name, `${name} must be true or false; got ${JSON.stringify(raw)}`)
    return fallback
  }

  url (name: string, protocols: string[]): string | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    let parsed: URL | undefined
    try { parsed = new URL(raw) } catch { /* reported below */ }
    if (parsed === undefined || !protocols.includes(parsed.protocol)) {
      this.problem(name, `${name} must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}; got ${JSON.stringify(redactUrl(raw))}`)
      return undefined
    }
    if (protocols.includes('http:') && (parsed.search !== '' || parsed.hash !== '' || parsed.username !== '')) {
      this.problem(name, `${name} must not carry credentials, a query or a fragment; got ${JSON.stringify(redactUrl(raw))}`)
      return undefined
    }
    return raw
  }

  /** A decimal from 0 to 1, such as 0.95. */
  fraction (name: string, fallback: number): number {
    const raw = this.string(name)
    if (raw === undefined) return fallback
    if (!/^(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)$/.test(raw)) {
      this.problem(name, `${name} must be a decimal from 0 to 1, such as 0.95; got ${JSON.stringify(raw)}`)
      return fallback
    }
    return Number(raw)
  }

  matching (name: string, pattern: RegExp, what: string): string | undefined {
    const raw = this.string(name)
    if (raw !== undefined && !pattern.test(raw)) {
      this.problem(name, `${name} must be ${what}; got ${JSON.stringify(raw)}`)
      return undefined
    }
    return raw
  }

  oneOf<T extends string> (name: string, allowed: readonly T[]): T | undefined {
    const raw = this.string(name)
    if (raw === undefined) return undefined
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problem(name, `${name} must be one of ${allowed.join(', ')}; got ${JSON.stringify(raw)}`)
      return undefined
    }
    return raw as T
  }
}

/**
 * A URL fit for a log or an error message, by parsing it: the password of
 * its user info and every query parameter that may hold a secret (password,
 * sslpassword, token, key…) become ***. Of a value that does not parse as a
 * URL nothing is shown: it may be a password pasted in the wrong place.
 */
export function redactUrl (raw: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return '(not a URL; its value is not shown)'
  }
  if (url.password !== '') url.password = '***'
  for (const name of new Set(url.searchParams.keys())) {
    if (/pass|secret|token|key|auth/i.test(name)) url.searchParams.set(name, '***')
  }
  return url.href
}

/** Namespaces shared with other software: a variable there that we do not read is not a mistake. */
const SHARED_PREFIXES = ['AWS_', 'OTEL_', 'HTTP_', 'HTTPS_', 'NODE_', 'NPM_']

/**
 * Variables that look like a setting of ours but are none: a misspelt name
 * (DATABSE_URL, S3_BUKET) would otherwise leave its setting unset without a
 * word. A variable is named when it starts like our settings do (S3_, DATABASE_…)
 * or is within two letters of one of them.
 */
export function lookAlikes (env: Env, known: ReadonlySet<string>): string[] {
  const prefixes = new Set([...known].filter((name) => name.includes('_')).map((name) => `${name.split('_')[0] as string}_`)
    .filter((prefix) => !SHARED_PREFIXES.includes(prefix)))
  const warnings: string[] = []
  for (const name of Object.keys(env).sort()) {
    if (known.has(name) || !/^[A-Z0-9_]+$/.test(name)) continue
    const near = [...known].filter((candidate) => resembles(name, candidate))
    if (near.length > 0) warnings.push(`${name} is not a setting of replay-gate and is ignored: did you mean ${near.join(' or ')}?`)
    else if ([...prefixes].some((prefix) => name.startsWith(prefix))) warnings.push(`${name} is not a setting of replay-gate and is ignored (see .env.example for every setting)`)
  }
  return warnings
}

/**
 * The variables set in `env` that look like `setting` but are not settings
 * themselves: what to add to "`setting` is missing" (S3_BUKET for S3_BUCKET).
 */
export function setInstead (env: Env, setting: string, known: ReadonlySet<string>): string {
  const near = Object.keys(env).sort().filter((name) => !known.has(name) && /^[A-Z0-9_]+$/.test(name) && (env[name] ?? '').trim() !== '' && resembles(name, setting))
  return near.map((name) => ` (${name} is set: did you mean ${setting}?)`).join('')
}

/** Units our settings end with: a name that leaves one out (SHUTDOWN_DELAY) is more than two letters away. */
const UNIT_SUFFIXES = ['_MS', '_SECONDS', '_MB', '_BYTES']

/** `name` is within two letters of the setting `candidate`, or is it without its unit. */
function resembles (name: string, candidate: string): boolean {
  return (candidate.length >= 6 && editDistance(name, candidate) <= 2) || UNIT_SUFFIXES.some((suffix) => candidate === `${name}${suffix}`)
}

/** Levenshtein distance, for the short names of settings. */
function editDistance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length] as number
}
