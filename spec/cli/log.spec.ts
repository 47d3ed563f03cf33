/**
 * The CLI logger and failure conventions, in-process: levels, both formats, redaction of
 * registered secrets (messages, nested fields, JSON escaping), one-line failures with exit codes
 * and stacks only at debug, and `commandAction` as commands use it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Command } from 'commander';
import {
  CliError,
  commandAction,
  createLogger,
  declaredSecrets,
  declareSecretOption,
  EXIT_FAILURE,
  EXIT_USAGE,
  type LoggerOptions,
  REDACTED,
  reportFailure,
  UsageError,
} from '../../lib/cli/log.js';

const FIXED = new Date('2024-05-01T12:00:00.000Z');

const capture = (options: LoggerOptions = {}) => {
  const lines: string[] = [];
  const log = createLogger({ now: () => FIXED, write: (line) => lines.push(line), ...options });
  return { log, lines };
};

describe('createLogger', () => {
  it('drops lines below the level; info is the default', () => {
    const { log, lines } = capture();
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines).toEqual(['i', 'warning: w', 'e']);
    expect(log.isEnabled('debug')).toBe(false);

    const quiet = capture({ level: 'error' });
    quiet.log.info('i');
    quiet.log.warn('w');
    quiet.log.error('e');
    expect(quiet.lines).toEqual(['e']);

    const loud = capture({ level: 'debug' });
    loud.log.debug('d', { ms: 12, path: '/tunnel/list', note: 'two words' });
    expect(loud.lines).toEqual(['debug: d ms=12 path=/tunnel/list note="two words"']);
  });

  it('text lines keep fields for debug only; json lines are {time, level, msg, ...fields}', () => {
    const text = capture();
    text.log.info('created', { tunnelId: 'abc' });
    expect(text.lines).toEqual(['created']);

    const { log, lines } = capture({ format: 'json', level: 'debug' });
    log.info('created', { tunnelId: 'abc', count: 3n, at: new Date(0), nested: { list: [1n, 'x'] }, error: Object.assign(new Error('boom'), { code: 'E1' }) });
    log.debug('d', { msg: 'not allowed to replace msg', level: 'nor level' });
    const [first, second] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(Object.keys(first ?? {}).slice(0, 3)).toEqual(['time', 'level', 'msg']);
    expect(first).toEqual({
      time: FIXED.toISOString(),
      level: 'info',
      msg: 'created',
      tunnelId: 'abc',
      count: '3',
      at: '1970-01-01T00:00:00.000Z',
      nested: { list: ['1', 'x'] },
      error: { name: 'Error', message: 'boom', code: 'E1' },
    });
    expect(second).toEqual({ time: FIXED.toISOString(), level: 'debug', msg: 'd' });
    expect(lines.every((line) => !line.includes('\n'))).toBe(true);
  });

  it('masks registered secrets in messages, nested fields and JSON-escaped text, longest first', () => {
    const { log, lines } = capture({ format: 'json', secrets: ['s3cr3t-value'] });
    log.addSecret('s3cr3t-value-longer');
    log.addSecret('quote"d\\secret');
    log.addSecret(undefined);
    log.addSecret('b'); // too short to mask
    log.error('auth with s3cr3t-value-longer failed', { deep: { list: ['x s3cr3t-value y'] }, text: 'a quote"d\\secret b' });
    const line = lines[0] as string;
    expect(line).not.toContain('s3cr3t');
    expect(line).not.toContain('quote"d');
    expect(JSON.parse(line)).toMatchObject({ msg: `auth with ${REDACTED} failed`, deep: { list: [`x ${REDACTED} y`] }, text: `a ${REDACTED} b` });
    expect(log.redact('s3cr3t-value and s3cr3t-value-longer')).toBe(`${REDACTED} and ${REDACTED}`);
    expect(log.redact('abc')).toBe('abc');
  });
});

describe('reportFailure', () => {
  it('one line, otsflow <command>: <message>, exit 1 for failures and 2 for usage errors', () => {
    const { log, lines } = capture();
    expect(reportFailure(log, 'tunnel create', new CliError('cannot reach http://127.0.0.1:1 (ECONNREFUSED)'))).toBe(EXIT_FAILURE);
    expect(reportFailure(log, 'tunnel create', new UsageError('--table needs --name'))).toBe(EXIT_USAGE);
    expect(reportFailure(log, 'tunnel list', new Error('multi\n  line\n\nmessage'))).toBe(EXIT_FAILURE);
    expect(reportFailure(log, 'x', 'a string')).toBe(EXIT_FAILURE);
    expect(reportFailure(log, '', new CliError('top', { exitCode: 3 }))).toBe(3);
    expect(lines).toEqual([
      'otsflow tunnel create: cannot reach http://127.0.0.1:1 (ECONNREFUSED)',
      'otsflow tunnel create: --table needs --name',
      'otsflow tunnel list: multi; line; message',
      'otsflow x: a string',
      'otsflow: top',
    ]);
  });

  it('adds the stack and causes at debug only; in json as a field of the same line', () => {
    const cause = new Error('socket closed');
    const error = new CliError('cannot list tunnels', { cause });
    const { log, lines } = capture({ level: 'debug' });
    reportFailure(log, 'tunnel list', error);
    expect(lines[0]).toBe('otsflow tunnel list: cannot list tunnels');
    expect(lines[1]).toMatch(/^debug: CliError: cannot list tunnels\n\s+at /);
    expect(lines[1]).toContain('caused by: Error: socket closed');

    const json = capture({ level: 'debug', format: 'json' });
    reportFailure(json.log, 'tunnel list', Object.assign(new Error('refused'), { code: 'OTSAuthFailed' }));
    expect(json.lines).toHaveLength(1);
    expect(JSON.parse(json.lines[0] as string)).toMatchObject({ level: 'error', msg: 'otsflow tunnel list: refused', command: 'tunnel list', exitCode: 1, code: 'OTSAuthFailed', stack: expect.stringContaining('Error: refused') });

    const info = capture({ format: 'json' });
    reportFailure(info.log, 'tunnel list', error);
    expect(JSON.parse(info.lines[0] as string)).not.toHaveProperty('stack');
  });

  it('masks secrets in the message and the stack', () => {
    const { log, lines } = capture({ level: 'debug', secrets: ['hunter2-secret'] });
    reportFailure(log, 'tunnel list', new Error('signed with hunter2-secret'));
    expect(lines.join('\n')).not.toContain('hunter2-secret');
    expect(lines[0]).toBe(`otsflow tunnel list: signed with ${REDACTED}`);
  });
});

describe('declared secret options', () => {
  it('finds --flag value, --flag=value and the environment', () => {
    declareSecretOption('--spec-secret', 'SPEC_SECRET_ENV');
    expect(declaredSecrets(['node', 'otsflow', '--spec-secret', 'one-secret', '--other', 'x', '--spec-secret=two-secret'], { SPEC_SECRET_ENV: 'three-secret' })).toEqual(
      expect.arrayContaining(['one-secret', 'two-secret', 'three-secret']),
    );
    expect(declaredSecrets(['node', 'otsflow', '--spec-secret'], { SPEC_SECRET_ENV: '' })).not.toContain('');
  });
});

describe('commandAction', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  const program = (run: Parameters<typeof commandAction>[0]) => {
    const root = new Command().name('otsflow').option('--log-level <level>').option('--log-format <format>');
    root.command('tunnel').command('create').option('--table <name>').option('--spec-secret <s>').action(commandAction(run));
    return root;
  };

  const stderr = () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    return written;
  };

  it('passes options with the globals and a context; a throw becomes one line and the exit code', async () => {
    const written = stderr();
    let seen: Record<string, unknown> = {};
    await program((options, context) => {
      seen = { ...options, name: context.name, level: context.log.level, format: context.log.format };
      throw new UsageError('--table needs --name');
    }).parseAsync(['node', 'otsflow', 'tunnel', 'create', '--table', 't', '--log-level', 'warn']);
    expect(seen).toMatchObject({ table: 't', logLevel: 'warn', name: 'tunnel create', level: 'warn', format: 'text' });
    expect(written).toEqual(['otsflow tunnel create: --table needs --name\n']);
    expect(process.exitCode).toBe(EXIT_USAGE);
  });

  it('writes results with out(), secrets masked; success leaves the exit code alone', async () => {
    const stdout: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout.push(String(chunk));
      return true;
    });
    declareSecretOption('--spec-secret');
    const argv = ['node', 'otsflow', 'tunnel', 'create', '--spec-secret', 'visible-nowhere'];
    const saved = process.argv;
    process.argv = argv;
    try {
      await program((_options, context) => {
        context.out('id-1');
        context.out('oops visible-nowhere');
      }).parseAsync(argv);
    } finally {
      process.argv = saved;
    }
    expect(stdout).toEqual(['id-1\n', `oops ${REDACTED}\n`]);
    expect(process.exitCode).toBeUndefined();
  });
});
