/** Shared between the CLI entry point and its command modules. */
export interface CommandContext {
  /** Set by a command to report failure (e.g. a checker violation) without throwing. */
  exitCode: number;
}
