/** What a CLI command reads and writes besides its flags: the caller's streams, folder and environment. */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is an interactive terminal (progress bar). */
  interactive: boolean;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Ctrl-C for commands that stop cleanly (wordpress backfill): aborts the signal on the first one. */
  interrupts?: () => { signal: AbortSignal; dispose: () => void };
}
