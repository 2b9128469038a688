// Child-process entry (`node load-worker.js FILE`): loads and validates a config file and writes the
// plain ParseResult as one JSON document on stdout. The agent loads its config here so that the
// schema and YAML libraries never stay resident in the long-running process: a worker thread would
// leave its heap's pages behind (~20 MiB of RSS measured), a process gives everything back.
import { loadConfigFile } from './load.js';

const file = process.argv[2] ?? '';
process.stdout.write(JSON.stringify(await loadConfigFile(file)), () => process.exit(0));
