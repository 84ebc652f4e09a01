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

  constructor (private readonly env: Env) {}

  /** Records a problem with `setting`; the text starts with the setting's name. */
  problem (setting: string, text: string): void {
    this.problems.push({ setting, text })
  }

  /** A problem was recorded for this setting. */
  failed (setting: string): boolean {
    return this.problems.some((p) => p.setting === setting)
  }

  /** Throws a ConfigError listing every problem, if there is any. */
  check (): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems.map((p) => p.text))
  }

  /** A set, non-blank value, trimmed; blank counts as unset (as in most .env tooling). */
  string (name: string): string | undefined {
    const value = this.env[name]?.trim()
    return value === undefined || value === '' ? undefined : value
  }

  /** The value as it is, untrimmed; unset is ''. */
  raw (name: string): string {
    return this.env[name] ?? ''
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
