/**
 * The CLI's logger and failure conventions, shared by every command.
 *
 * - Levels `error|warn|info|debug` (`--log-level`, default info); formats `text` (human lines;
 *   fields as ` key=value` on debug lines only) and `json` (one `{time, level, msg, ...fields}`
 *   object per line), both on stderr. Stdout is
 *   for a command's results only (ids, tables, JSON documents).
 * - Control characters are escaped in every line (`\x1b`, `\u202e`): what a script or a server
 *   says is shown on the terminal, never executed by it.
 * - Redaction: secrets registered with `addSecret` (access key secrets, security tokens) are
 *   replaced by `<redacted>` in every message and field, and in what `out()` prints.
 * - Failures: a command action wrapped in `commandAction` never lets an exception escape. It prints
 *   one line `otsflow <command>: <message>` (the stack trace only with `--log-level debug`) and
 *   sets the exit code: 2 for usage errors (`UsageError`: bad or missing flags, unknown commands
 *   and options), 1 for everything else (service refusals, unreachable endpoints, missing tunnels).
 */
import { Command, CommanderError, Option } from 'commander';
import { escapeControlCharacters } from '../sql/errors.js';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogFields = Readonly<Record<string, unknown>>;

export const REDACTED = '<redacted>';
/**
 * Shorter values are not masked: masking `b` would mangle every line, and no access key secret
 * or token is that short.
 */
export const MIN_SECRET_LENGTH = 6;
/** the command ran and failed: the service refused, the endpoint was unreachable, … */
export const EXIT_FAILURE = 1;
/** the command line was wrong: unknown command or option, missing or invalid flag values */
export const EXIT_USAGE = 2;

export interface Logger {
  readonly level: LogLevel;
  readonly format: LogFormat;
  isEnabled(level: LogLevel): boolean;
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  /** masks `secret` in every later line and in `redact`; undefined and values shorter than MIN_SECRET_LENGTH are ignored */
  addSecret(secret: string | undefined): void;
  /** `text` with every registered secret masked */
  redact(text: string): string;
}

export interface LoggerOptions {
  readonly level?: LogLevel;
  readonly format?: LogFormat;
  /** receives each line without its newline; default: stderr */
  readonly write?: (line: string) => void;
  readonly now?: () => Date;
  readonly secrets?: Iterable<string>;
}

const RANK: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3 };
const TEXT_PREFIX: Readonly<Record<LogLevel, string>> = { error: '', warn: 'warning: ', info: '', debug: 'debug: ' };

export const isLogLevel = (value: unknown): value is LogLevel => typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
export const isLogFormat = (value: unknown): value is LogFormat => typeof value === 'string' && (LOG_FORMATS as readonly string[]).includes(value);

/** JSON-friendly copy: bigint → string, Date → ISO, Error → {name, message, code}, secrets masked. */
function plainValue(value: unknown, redact: (text: string) => string, seen: Set<unknown>): unknown {
  if (typeof value === 'string') return redact(value);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? String(value) : value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  try {
    if (value instanceof Error) {
      const code = (value as { code?: unknown }).code;
      return { name: value.name, message: redact(value.message), ...(code === undefined ? {} : { code: plainValue(code, redact, seen) }) };
    }
    if (Array.isArray(value)) return value.map((item) => plainValue(item, redact, seen));
    if (value instanceof Uint8Array) return `<${value.length} bytes>`;
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plainValue(item, redact, seen)]));
  } finally {
    seen.delete(value);
  }
}

function textValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text !== undefined && /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text ?? String(value));
}

/** JSON.stringify leaves DEL, C1 and bidirectional controls raw; as \u escapes the line stays valid JSON. */
const escapeJsonControls = (line: string): string =>
  line.replace(/[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const format = options.format ?? 'text';
  const write = options.write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const secrets = new Set<string>();
  // longest first, so a secret containing another is masked whole
  let ordered: string[] = [];
  const addSecret = (secret: string | undefined): void => {
    if (secret === undefined || secret.length < MIN_SECRET_LENGTH || secrets.has(secret)) return;
    secrets.add(secret);
    ordered = [...secrets].sort((a, b) => b.length - a.length);
  };
  for (const secret of options.secrets ?? []) addSecret(secret);
  const redact = (text: string): string => {
    let result = text;
    for (const secret of ordered) if (result.includes(secret)) result = result.split(secret).join(REDACTED);
    return result;
  };
  const isEnabled = (at: LogLevel): boolean => RANK[at] <= RANK[level];

  const emit = (at: LogLevel, msg: string, fields: LogFields = {}): void => {
    if (!isEnabled(at)) return;
    const plainFields = plainValue(fields, redact, new Set()) as Record<string, unknown>;
    let line: string;
    if (format === 'json') {
      const { time: _time, level: _level, msg: _msg, ...rest } = plainFields;
      line = JSON.stringify({ time: now().toISOString(), level: at, msg: redact(msg), ...rest });
    } else {
      // human lines carry their facts in the message; fields are shown on debug lines only
      const rest = Object.entries(at === 'debug' ? plainFields : {})
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => ` ${key}=${textValue(value)}`)
        .join('');
      line = `${TEXT_PREFIX[at]}${redact(msg)}${rest}`;
    }
    // a secret the field copy could not see whole (e.g. split by JSON escaping) is still caught here;
    // control characters (from a script, a table name, a server message) are shown, never obeyed
    write(format === 'json' ? escapeJsonControls(redact(line)) : escapeControlCharacters(redact(line)));
  };

  return {
    level,
    format,
    isEnabled,
    error: (msg, fields) => emit('error', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    debug: (msg, fields) => emit('debug', msg, fields),
    addSecret,
    redact,
  };
}

// ---- failures ---------------------------------------------------------------------------------

/** A failure with the exit code it ends the process with; its message is shown as is. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, options: { readonly exitCode?: number; readonly cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = options.exitCode ?? EXIT_FAILURE;
  }
}

/** The command line is wrong (exit 2). */
export class UsageError extends CliError {
  constructor(message: string, options: { readonly cause?: unknown } = {}) {
    super(message, { ...options, exitCode: EXIT_USAGE });
    this.name = 'UsageError';
  }
}

/** `tunnel create` for the command `otsflow tunnel create`. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let current: Command | null = command; current !== null && current.parent !== null; current = current.parent) names.unshift(current.name());
  return names.join(' ');
}

const stackOf = (error: unknown): string | undefined => {
  if (!(error instanceof Error)) return undefined;
  const parts: string[] = [error.stack ?? `${error.name}: ${error.message}`];
  let cause = error.cause;
  for (let depth = 0; cause !== undefined && depth < 5; depth++) {
    parts.push(`caused by: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`);
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return parts.join('\n');
};

const messageOf = (error: unknown): string => {
  if (error instanceof Error) return error.message.split('\n').map((line) => line.trim()).filter((line) => line !== '').join('; ') || error.name;
  return String(error);
};

/**
 * Prints the failure of `command` (`tunnel create`) as one line, `otsflow tunnel create: <msg>`,
 * plus the stack when the logger is at debug, and returns the exit code it stands for.
 */
export function reportFailure(log: Logger, command: string, error: unknown): number {
  const exitCode = error instanceof CliError ? error.exitCode : EXIT_FAILURE;
  const line = `otsflow${command === '' ? '' : ` ${command}`}: ${messageOf(error)}`;
  const stack = log.isEnabled('debug') && !(error instanceof UsageError && error.cause === undefined) ? stackOf(error) : undefined;
  if (log.format === 'json') {
    const code = (error as { code?: unknown } | null)?.code;
    log.error(line, { command, exitCode, ...(typeof code === 'string' ? { code } : {}), ...(stack === undefined ? {} : { stack }) });
  } else {
    log.error(line);
    if (stack !== undefined) log.debug(stack);
  }
  return exitCode;
}

// ---- the commander side ---------------------------------------------------------------------

export interface GlobalLogOptions {
  readonly logLevel?: string;
  readonly logFormat?: string;
}

const secretOptions = new Map<string, readonly string[]>();

/**
 * Declares a flag (`--access-key-secret`) whose value, and environment variables whose values,
 * are secrets: every logger `loggerFor` builds masks them from the start, even in errors raised
 * while the command line is still being parsed.
 */
export function declareSecretOption(flag: string, ...environment: string[]): void {
  secretOptions.set(flag, [...(secretOptions.get(flag) ?? []), ...environment]);
}

/** The values of declared secret flags in `argv` (`--flag v` and `--flag=v`) and environment. */
export function declaredSecrets(argv: readonly string[] = process.argv, env: NodeJS.ProcessEnv = process.env): string[] {
  const found: string[] = [];
  for (const [flag, names] of secretOptions) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i] as string;
      if (arg === flag && argv[i + 1] !== undefined) found.push(argv[i + 1] as string);
      else if (arg.startsWith(`${flag}=`)) found.push(arg.slice(flag.length + 1));
    }
    for (const name of names) if (env[name] !== undefined && env[name] !== '') found.push(env[name] as string);
  }
  return found;
}

/** A logger for the global options, masking the declared secrets of this process. */
export function loggerFor(options: GlobalLogOptions, extra: Omit<LoggerOptions, 'level' | 'format'> = {}): Logger {
  return createLogger({
    ...extra,
    level: isLogLevel(options.logLevel) ? options.logLevel : 'info',
    format: isLogFormat(options.logFormat) ? options.logFormat : 'text',
    secrets: [...declaredSecrets(), ...(extra.secrets ?? [])],
  });
}

/** `--log-level` and `--log-format` on the program (recognised before or after the subcommand). */
export function addLoggingOptions(program: Command): Command {
  return program
    .addOption(new Option('--log-level <level>', 'diagnostics on stderr down to this level; debug adds stack traces').choices(LOG_LEVELS).default('info').env('OTSFLOW_LOG_LEVEL'))
    .addOption(new Option('--log-format <format>', 'text: human lines; json: one JSON object per line').choices(LOG_FORMATS).default('text').env('OTSFLOW_LOG_FORMAT'))
    .configureHelp({ showGlobalOptions: true });
}

export interface CommandContext {
  /** `tunnel create` */
  readonly name: string;
  readonly command: Command;
  readonly log: Logger;
  /** writes `text` plus a newline to stdout, secrets masked */
  out(text: string): void;
}

/**
 * Wraps a commander action so every command fails the same way: the options (with the globals)
 * and a context with the logger go to `run`; whatever it throws is reported by `reportFailure`
 * and sets `process.exitCode`. Positional arguments, when the command has any, come third.
 */
export function commandAction<O extends object>(
  run: (options: O, context: CommandContext, args: readonly unknown[]) => Promise<void> | void,
): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    const options = command.optsWithGlobals<O & GlobalLogOptions>();
    const log = loggerFor(options);
    const name = commandPath(command);
    // on a terminal, results are shown with control characters escaped (a string in a script or a
    // table must not drive the terminal); piped, they stay byte for byte what the command produced
    const shown = process.stdout.isTTY ? escapeControlCharacters : (text: string) => text;
    const context: CommandContext = { name, command, log, out: (text) => void process.stdout.write(`${shown(log.redact(text))}\n`) };
    try {
      await run(options, context, args.slice(0, -2));
    } catch (error) {
      process.exitCode = reportFailure(log, name, error);
    }
  };
}

const HELP_CODES: ReadonlySet<string> = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/**
 * Commander's own errors (unknown command or option, missing required option, bad choice) as one
 * line `otsflow <command>: <message>` with exit 2, in the chosen log format. Call once, after every
 * command is registered: it walks the whole command tree.
 */
export function applyCliConventions(program: Command): Command {
  const root = program;
  const visit = (command: Command): void => {
    command.configureOutput({ outputError: () => undefined });
    command.exitOverride((error: CommanderError) => {
      if (HELP_CODES.has(error.code)) process.exit(error.exitCode);
      const globals = root.opts<GlobalLogOptions>();
      const log = loggerFor({ logLevel: globals.logLevel, logFormat: globals.logFormat ?? formatFromArgv(process.argv) });
      const message = error.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
      process.exit(reportFailure(log, commandPath(command), new UsageError(`${message} (see --help)`)));
    });
    for (const sub of command.commands) visit(sub);
  };
  visit(program);
  return program;
}

/** `--log-format json` seen on the command line, for errors raised before the options are parsed. */
function formatFromArgv(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--log-format') return argv[i + 1];
    if (arg.startsWith('--log-format=')) return arg.slice('--log-format='.length);
  }
  return process.env['OTSFLOW_LOG_FORMAT'];
}
