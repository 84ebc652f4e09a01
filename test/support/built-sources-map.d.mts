// The part of built-sources-map.mjs that the suite's TypeScript uses.
export declare const nodeRunsTypeScript: boolean
export declare function compileTests (): void
export declare function runnable (url: string): string
