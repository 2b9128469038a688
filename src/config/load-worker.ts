// Worker-thread entry: loads and validates a config file and posts the plain ParseResult back.
// The agent loads its config here so that the schema and YAML libraries never stay resident in the
// long-running process (about 9 MiB of idle RSS).
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfigFile } from './load.js';

const file = (workerData as { file: string }).file;
parentPort!.postMessage(await loadConfigFile(file));
