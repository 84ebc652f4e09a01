// Plugins check their options when they are registered, with a message that
// names the plugin and the option, never on the first request.

export function checkOption (plugin: string, name: string, valid: boolean, expected: string): void {
  if (!valid) throw new TypeError(`${plugin}: the "${name}" option must be ${expected}`)
}

export function hasMethod (value: unknown, method: string): boolean {
  return typeof (value as Record<string, unknown> | undefined)?.[method] === 'function'
}
