// Where a command writes: injectable so tests can capture it.
export interface Out {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export const processOut: Out = { stdout: process.stdout, stderr: process.stderr };
