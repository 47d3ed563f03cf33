import { Command } from 'commander';
import { createRequire } from 'node:module';
import { registerDemoCommand } from './demo-command.js';
import { registerEmulatorCommand } from './emulator-command.js';
import { registerSqlCommand } from './sql-command.js';
import { addLoggingOptions, applyCliConventions } from './log.js';
import { registerTunnelCommand } from './tunnel-command.js';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

const program = new Command()
  .name('otsflow')
  .description('Real-time computation over Tablestore change data (Tunnel CDC), with an embedded emulator')
  .version(version);
addLoggingOptions(program);

registerSqlCommand(program);
registerDemoCommand(program);
registerEmulatorCommand(program);
registerTunnelCommand(program);

// after every command is registered: commander's own errors become one line, exit 2
applyCliConventions(program);
await program.parseAsync(process.argv);
