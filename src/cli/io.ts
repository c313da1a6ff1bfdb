/** Where the CLI reads and writes: the process's streams, or strings in tests. */
export interface CliIo {
  stdin: NodeJS.ReadableStream;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /**
   * Environment variables (KEYFLIP_COLLECTOR_TOKEN, KEYFLIP_PROJECT, SECRET_MANAGER_EMULATOR_HOST).
   * @default process.env
   */
  env?: NodeJS.ProcessEnv | undefined;
}
