import { readFileSync } from 'node:fs';
import { isLeft, isRight, type Either } from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { describeSqlError, type SqlError } from '../../lib/sql/errors.js';
import { parseScript, type DecodedStatement, type StatementOptions } from '../../lib/sql/index.js';
import { formatSqlErrors } from '../../lib/sql/printer.js';
import { where } from './helpers.js';

const SEED = readFileSync(new URL('../fixtures/seed-orders-job.sql', import.meta.url), 'utf8');

function decoded(sql: string): readonly DecodedStatement[] {
  const result = parseScript(sql);
  if (isLeft(result)) throw new Error(result.left.map(describeSqlError).join('\n'));
  return result.right;
}

function optionsOf(sql: string): StatementOptions {
  const [first] = decoded(sql);
  if (first === undefined) throw new Error('no statement');
  return first.options;
}

function errorsOf(sql: string): readonly SqlError[] {
  const result: Either<readonly SqlError[], unknown> = parseScript(sql);
  if (isRight(result)) throw new Error(`expected errors for ${sql}`);
  return result.left;
}

const described = (sql: string): string[] => errorsOf(sql).map(describeSqlError);

const CATALOG = `catalog='{"columns": {"k": {"type": "string"}}}'`;
const table = (options: string): string => `CREATE TABLE t USING tablestore OPTIONS(table.name='T', ${CATALOG}${options === '' ? '' : `, ${options}`})`;

describe('the seed script', () => {
  const statements = decoded(SEED);

  it('decodes the source table: remote endpoint, instance, typed catalog in JSON order', () => {
    const source = statements[1]?.options;
    expect(source?.kind).toBe('table');
    if (source?.kind !== 'table') return;
    expect(source.options).toMatchObject({
      endpoint: { kind: 'remote', url: 'http://vehicle-test.cn-hangzhou.vpc.tablestore.aliyuncs.com' },
      instanceName: 'vehicle-test',
      accessKeyId: '',
      tableName: 'OrderSource',
      rowChangeType: 'put',
      catalog: {
        columns: [
          { name: 'UserId', type: 'string' },
          { name: 'OrderId', type: 'string' },
          { name: 'price', type: 'double' },
          { name: 'timestamp', type: 'long' },
        ],
      },
    });
    expect(source.options.accessKeySecret?.reveal()).toBe('');
  });

  it('decodes the sink catalog, the scan and the stream options', () => {
    expect(statements.map((statement) => statement.options.kind)).toEqual(['none', 'table', 'none', 'table', 'scan', 'stream']);
    const sink = statements[3]?.options;
    expect(sink?.kind === 'table' && sink.options.catalog.columns.map((column) => `${column.name}:${column.type}`)).toEqual([
      'begin:string',
      'end:string',
      'count:long',
      'totalPrice:double',
    ]);
    expect(statements[4]?.options).toEqual({
      kind: 'scan',
      options: { mode: 'STREAM', tunnel: { by: 'id', id: '4987845a-1321-4d36-9f4e-73d6db63bf0f' }, maxOffsetsPerChannel: 10_000 },
    });
    expect(statements[5]?.options).toEqual({
      kind: 'stream',
      options: {
        checkpointLocation: '/tmp/spark/cp/job1',
        checkpointTable: null,
        outputMode: 'update',
        triggerType: 'ProcessingTime',
        triggerIntervalMs: 0,
        watermark: null,
      },
    });
  });
});

describe('table options', () => {
  it('without endpoint, or with endpoint embedded (any case), the embedded emulator serves the table', () => {
    for (const options of ['', "endpoint='embedded'", 'ENDPOINT="Embedded"']) {
      const result = optionsOf(table(options));
      expect(result.kind === 'table' && result.options.endpoint).toEqual({ kind: 'embedded' });
      expect(result.kind === 'table' && result.options.instanceName).toBeNull();
    }
  });

  it('a remote endpoint needs instance.name and both access keys', () => {
    expect(described(table("endpoint='https://i.cn-hangzhou.ots.aliyuncs.com', access.key.id='id'"))).toEqual([
      "line 1, col 33: missing required option 'instance.name' (the remote endpoint at line 1 needs instance.name, access.key.id and access.key.secret)",
      "line 1, col 33: missing required option 'access.key.secret' (the remote endpoint at line 1 needs instance.name, access.key.id and access.key.secret)",
    ]);
  });

  it('rejects endpoints that are not http(s) URLs', () => {
    const sql = table("endpoint='ftp://x'");
    expect(described(sql)).toEqual([`${where(sql, "'ftp://x'")}: option 'endpoint': must be an http:// or https:// URL, not 'ftp://x'`]);
  });

  it('writer.row.change.type is put or update, case-insensitive', () => {
    const result = optionsOf(table("Writer.Row.Change.Type='UPDATE'"));
    expect(result.kind === 'table' && result.options.rowChangeType).toBe('update');
    expect(described(table("writer.row.change.type='upsert'"))[0]).toContain("must be one of put, update, not 'upsert'");
  });

  it('table.name and catalog are required, and table.name must not be blank', () => {
    expect(described("CREATE TABLE t USING tablestore OPTIONS()")).toEqual([
      "line 1, col 33: missing required option 'table.name'",
      "line 1, col 33: missing required option 'catalog'",
    ]);
    expect(described(`CREATE TABLE t USING tablestore OPTIONS(table.name='  ', ${CATALOG})`)).toEqual([
      "line 1, col 52: option 'table.name': must not be empty",
    ]);
  });

  it("catalog.type.mismatch is null (EMR's rule, the default) or fail, case-insensitive", () => {
    const of = (options: string) => {
      const result = optionsOf(table(options));
      return result.kind === 'table' ? result.options.typeMismatch : undefined;
    };
    expect(of('')).toBe('null');
    expect(of("Catalog.Type.Mismatch='FAIL'")).toBe('fail');
    expect(of("catalog.type.mismatch='null'")).toBe('null');
    expect(described(table("catalog.type.mismatch='skip'"))[0]).toContain("option 'catalog.type.mismatch': must be one of null, fail, not 'skip'");
    expect(described(table("catalog.type.mismatc='fail'"))[0]).toContain("unknown option 'catalog.type.mismatc' — did you mean 'catalog.type.mismatch'?");
  });

  it('only tablestore is a data source', () => {
    expect(described(`CREATE TABLE t USING kafka OPTIONS(table.name='T', ${CATALOG})`)).toEqual([
      "line 1, col 22: unsupported data source 'kafka' (otsflow reads and writes Tablestore: USING tablestore)",
    ]);
  });

  it('unknown keys get a suggestion, or where they belong, or the accepted list', () => {
    const typo = table("tabel.name='x'");
    expect(described(typo)).toEqual([`${where(typo, 'tabel.name')}: unknown option 'tabel.name' — did you mean 'table.name'?`]);
    const misplaced = table("tunnel.id='x'");
    expect(described(misplaced)).toEqual([
      `${where(misplaced, 'tunnel.id')}: unknown option 'tunnel.id' ('tunnel.id' belongs in CREATE SCAN … USING STREAM OPTIONS, not in CREATE TABLE)`,
    ]);
    expect(errorsOf(table("zzz='x'"))[0]?.hint).toBe(
      'CREATE TABLE accepts endpoint, access.key.id, access.key.secret, instance.name, table.name, catalog, catalog.type.mismatch, writer.row.change.type',
    );
  });

  it('EMR connector options otsflow does not take are named as such, with the alternative', () => {
    const sql = table("version='v2'");
    expect(described(sql)).toEqual([
      `${where(sql, 'version')}: EMR option 'version' is not supported by otsflow (the sink always batches BatchWriteRow requests (≤ 200 rows, ≤ 4 MiB))`,
    ]);
    expect(errorsOf("CREATE SCAN v ON t USING STREAM OPTIONS(tunnel.id='x', ots.client='m')")[0]?.hint).toBe('otsflow connects to the tunnel with its own client id');
    // EMR's offsets table is otsflow's job state table, an option of the stream (the hint says where it belongs)
    expect(errorsOf("CREATE SCAN v ON t USING STREAM OPTIONS(tunnel.id='x', checkpoint.table='m')")[0]?.message).toBe(
      "unknown option 'checkpoint.table'",
    );
    expect(optionsOf("CREATE STREAM j OPTIONS(checkpoint.table='job1_state') INSERT INTO s SELECT a FROM v")).toMatchObject({ kind: 'stream', options: { checkpointTable: 'job1_state', checkpointLocation: null } });
  });

  it('a key given twice (in any case) is an error that points at both', () => {
    const sql = table("TABLE.NAME='again'");
    expect(described(sql)).toEqual([
      `${where(sql, 'TABLE.NAME')}: option 'table.name' is given twice (first given at ${where(sql, 'table.name')})`,
    ]);
  });

  it('collects every problem of a statement, keys and values alike: key problems first, values in source order', () => {
    const sql = `CREATE TABLE t USING tablestore OPTIONS(
      table.name='',
      catalog='{"columns": {"a": {"type": "strin"}}}',
      endpoint='nope',
      tunnel.idd='x')`;
    expect(described(sql)).toEqual([
      `${where(sql, 'tunnel.idd')}: unknown option 'tunnel.idd' — did you mean 'tunnel.id'? ('tunnel.id' belongs in CREATE SCAN … USING STREAM OPTIONS, not in CREATE TABLE)`,
      `${where(sql, "''")}: option 'table.name': must not be empty`,
      `${where(sql, '"strin"')}: option 'catalog': column 'a' has unknown type 'strin'; expected string, long, double, boolean, binary (did you mean 'string'?)`,
      `${where(sql, "'nope'")}: option 'endpoint': must be 'embedded' or an http(s):// URL, not 'nope'`,
    ]);
  });
});

describe('catalog JSON', () => {
  const withCatalog = (catalog: string): string => `CREATE TABLE t USING tablestore OPTIONS(table.name='T',\ncatalog=${catalog})`;

  it('maps JSON syntax errors to line:col inside a multi-line value', () => {
    const sql = withCatalog(`'{"columns": {\n  "a": {"type": "string"},\n  "b": {"type": "long"} oops\n}}'`);
    expect(described(sql)).toEqual([
      "line 4, col 25: option 'catalog': invalid JSON: expected ',' or '}' after object member but found 'o'",
    ]);
  });

  it('maps positions through backslash escapes of a double-quoted value', () => {
    const sql = withCatalog(`"{\\"columns\\": {\\"a\\": {\\"type\\": \\"strng\\"}}}"`);
    expect(described(sql)).toEqual([
      `${where(sql, '\\"strng')}: option 'catalog': column 'a' has unknown type 'strng'; expected string, long, double, boolean, binary (did you mean 'string'?)`,
    ]);
  });

  it('points at the member that is wrong: missing type, non-object column, empty or missing columns', () => {
    const members = withCatalog(`'{"columns": {"a": {"typ": "string"}, "b": 3}}'`);
    expect(described(members)).toEqual([
      `${where(members, '{"typ"')}: option 'catalog': column 'a' has no "type"`,
      `${where(members, '3}')}: option 'catalog': column 'b' must be an object like {"type": "string"}`,
    ]);
    const empty = withCatalog(`'{"columns": {}}'`);
    expect(described(empty)).toEqual([`${where(empty, '{}')}: option 'catalog': defines no columns`]);
    expect(errorsOf(withCatalog(`'{"colums": {"a": {"type": "long"}}}'`))[0]).toMatchObject({
      line: 2,
      column: 10,
      message: `option 'catalog': has no "columns" member; expected {"columns": {"<name>": {"type": "string"}, …}}`,
      hint: 'found "colums" — write "columns"',
    });
    expect(described(withCatalog(`'[1]'`))).toEqual([
      `line 2, col 10: option 'catalog': must be a JSON object like {"columns": {"<name>": {"type": "string"}, …}}`,
    ]);
  });

  it('reports a column defined twice', () => {
    const sql = withCatalog(`'{"columns": {"a": {"type": "long"}, "a": {"type": "string"}}}'`);
    expect(described(sql)).toEqual([`${where(sql, '"a"', 2)}: option 'catalog': "a" appears twice`]);
  });

  it('accepts Spark type aliases, narrowed to Tablestore types, and keeps source order', () => {
    const result = optionsOf(
      withCatalog(`'{"columns": {"z": {"type": "BIGINT"}, "2": {"type": "int"}, "1": {"type": "float"}, "b": {"type": "Binary"}, "t": {"type": "boolean", "col": "ignored"}}}'`),
    );
    expect(result.kind === 'table' && result.options.catalog.columns).toEqual([
      { name: 'z', type: 'long' },
      { name: '2', type: 'long' },
      { name: '1', type: 'double' },
      { name: 'b', type: 'binary' },
      { name: 't', type: 'boolean' },
    ]);
  });
});

describe('scan options', () => {
  const scan = (mode: string, options: string | null): string =>
    `CREATE SCAN v ON t USING ${mode}${options === null ? '' : ` OPTIONS(${options})`}`;

  it('a STREAM scan reads a tunnel by id or by name; maxoffsetsperchannel in any case, as string or number', () => {
    expect(optionsOf(scan('STREAM', "tunnel.name='orders', MaxOffsetsPerChannel=500"))).toEqual({
      kind: 'scan',
      options: { mode: 'STREAM', tunnel: { by: 'name', name: 'orders' }, maxOffsetsPerChannel: 500 },
    });
    expect(optionsOf(scan('STREAM', "TUNNEL.ID='abc'"))).toEqual({
      kind: 'scan',
      options: { mode: 'STREAM', tunnel: { by: 'id', id: 'abc' }, maxOffsetsPerChannel: 10_000 },
    });
  });

  it('a STREAM scan without tunnel, or with both id and name, is an error', () => {
    expect(described(scan('STREAM', null))).toEqual([
      "line 1, col 1: missing required option 'tunnel.id' (a STREAM scan reads a tunnel: give 'tunnel.id' (or 'tunnel.name'))",
    ]);
    expect(described(scan('STREAM', "tunnel.id='a', tunnel.name='b'"))).toEqual([
      "line 1, col 56: give either 'tunnel.id' or 'tunnel.name', not both",
    ]);
  });

  it('maxoffsetsperchannel must be a positive whole number', () => {
    for (const value of ["'0'", "'-5'", "'1.5'", "'many'", '-3']) {
      expect(described(scan('STREAM', `tunnel.id='a', maxoffsetsperchannel=${value}`))[0]).toMatch(
        /^line 1, col \d+: option 'maxoffsetsperchannel': must be a positive whole number, not '.*'$/,
      );
    }
  });

  it('a BATCH scan takes no tunnel options', () => {
    expect(optionsOf(scan('BATCH', null))).toEqual({ kind: 'scan', options: { mode: 'BATCH' } });
    expect(described(scan('BATCH', "tunnel.id='a'"))).toEqual([
      "line 1, col 40: unknown option 'tunnel.id' ('tunnel.id' belongs in CREATE SCAN … USING STREAM OPTIONS, not in CREATE SCAN … USING BATCH)",
    ]);
  });

  it('a typo gets a suggestion and the other options are still checked', () => {
    expect(described(scan('STREAM', "tunnel.idd='a', maxoffsetsperchannel='0'"))).toEqual([
      "line 1, col 41: unknown option 'tunnel.idd' — did you mean 'tunnel.id'?",
      "line 1, col 78: option 'maxoffsetsperchannel': must be a positive whole number, not '0'",
    ]);
  });
});

describe('stream options', () => {
  const stream = (options: string): string => `CREATE STREAM j OPTIONS(${options}) INSERT INTO s SELECT a FROM v`;

  it('defaults: append, ProcessingTime, interval 0, no checkpoint, no watermark', () => {
    expect(optionsOf('CREATE STREAM j INSERT INTO s SELECT a FROM v')).toEqual({
      kind: 'stream',
      options: { checkpointLocation: null, checkpointTable: null, outputMode: 'append', triggerType: 'ProcessingTime', triggerIntervalMs: 0, watermark: null },
    });
  });

  it('values and keys are case-insensitive and come back canonical', () => {
    expect(optionsOf(stream("OUTPUTMODE='Complete', triggertype='onetime', TriggerIntervalMs='2500', watermark.delay='1 minute 30 seconds', watermark.column='event_time'"))).toEqual({
      kind: 'stream',
      options: {
        checkpointLocation: null,
        checkpointTable: null,
        outputMode: 'complete',
        triggerType: 'OneTime',
        triggerIntervalMs: 2500,
        watermark: { column: 'event_time', delayMs: 90_000 },
      },
    });
  });

  it('reports bad values, each at its value', () => {
    expect(described(stream("outputMode='updat', triggerType='Continuous', triggerIntervalMs='-1', watermark.delay='10 secs'"))).toEqual([
      "line 1, col 36: option 'outputMode': must be one of append, update, complete, not 'updat' (did you mean 'update'?)",
      "line 1, col 57: option 'triggerType': must be one of ProcessingTime, OneTime, not 'Continuous'",
      "line 1, col 89: option 'triggerIntervalMs': must be a whole number ≥ 0, not '-1'",
      "line 1, col 111: option 'watermark.delay': unknown time unit 'secs' in '10 secs'",
    ]);
  });

  it('a watermark column needs a delay; a zero delay is refused', () => {
    expect(described(stream("watermark.column='ts'"))).toEqual([
      "line 1, col 25: option 'watermark.column' needs 'watermark.delay' (e.g. watermark.delay='10 seconds')",
    ]);
    expect(described(stream("watermark.delay='0 seconds'"))).toEqual([
      "line 1, col 41: option 'watermark.delay': must be longer than 0, not '0 seconds'",
    ]);
  });
});

describe('credentials never leak', () => {
  it('decoded secrets are Redacted; JSON and string forms show <redacted>', () => {
    const result = optionsOf(table("endpoint='http://x', instance.name='i', access.key.id='AK', access.key.secret='TOPSECRET'"));
    if (result.kind !== 'table') throw new Error(result.kind);
    expect(result.options.accessKeySecret?.reveal()).toBe('TOPSECRET');
    expect(JSON.stringify(result)).not.toContain('TOPSECRET');
    expect(`${result.options.accessKeySecret}`).toBe('<redacted>');
  });

  it('errors about misspelt or repeated secret keys, and their source excerpts, never show the value', () => {
    const sql = `CREATE TABLE t USING tablestore OPTIONS(table.name='T', ${CATALOG},
      access.key.secrte='TOPSECRET', access.key.secret='TOPSECRET2', ACCESS.KEY.SECRET=12345)`;
    const errors = errorsOf(sql);
    expect(errors.map(describeSqlError)).toEqual([
      `${where(sql, 'access.key.secrte')}: unknown option 'access.key.secrte' — did you mean 'access.key.secret'?`,
      `${where(sql, 'ACCESS.KEY.SECRET')}: option 'access.key.secret' is given twice (first given at ${where(sql, 'access.key.secret=')})`,
    ]);
    const printed = formatSqlErrors(sql, errors);
    expect(printed).not.toMatch(/TOPSECRET|12345/);
  });
});

describe('parseScript', () => {
  it('stops at syntax errors, which come before option decoding', () => {
    expect(described("CREATE TABLE t USING tablestore OPTIONS(table.name='T';")).toEqual([
      "line 1, col 55: expected ')' after OPTIONS list but found ';'",
    ]);
  });

  it('collects option errors of all statements in source order', () => {
    expect(described(`CREATE SCAN v ON t USING STREAM OPTIONS(maxoffsetsperchannel='x');\nCREATE STREAM j OPTIONS(outputMode='x') INSERT INTO s SELECT 1`)).toEqual([
      "line 1, col 62: option 'maxoffsetsperchannel': must be a positive whole number, not 'x'",
      "line 2, col 36: option 'outputMode': must be one of append, update, complete, not 'x'",
    ]);
  });

  it('EXPLAIN decodes the options of the explained statement', () => {
    expect(optionsOf("EXPLAIN CREATE SCAN v ON t USING STREAM OPTIONS(tunnel.id='x')").kind).toBe('scan');
    expect(described('EXPLAIN CREATE SCAN v ON t USING STREAM')[0]).toContain("missing required option 'tunnel.id'");
  });
});

describe('an unknown key leads the errors it causes (every option group)', () => {
  const CAT = `catalog='{"columns": {"k": {"type": "string"}}}'`;
  const cases: ReadonlyArray<{ readonly group: string; readonly sql: string; readonly typo: string; readonly then: readonly RegExp[] }> = [
    { group: 'CREATE TABLE, a required key misspelt', sql: `CREATE TABLE t USING tablestore OPTIONS(tabel.name='T', ${CAT})`, typo: 'tabel.name', then: [/missing required option 'table.name'/] },
    {
      group: 'CREATE TABLE, two misspelt, one bad value after them',
      sql: `CREATE TABLE t USING tablestore OPTIONS(catalg='{}', tabel.name='T', writer.row.change.type='upsert')`,
      typo: 'catalg',
      then: [/unknown option 'tabel.name'/, /option 'writer.row.change.type': must be one of/, /missing required option 'table.name'/, /missing required option 'catalog'/],
    },
    {
      group: 'CREATE TABLE on a remote endpoint, a credential key misspelt',
      sql: `CREATE TABLE t USING tablestore OPTIONS(endpoint='http://h', instanse.name='i', access.key.id='', access.key.secret='', table.name='T', ${CAT})`,
      typo: 'instanse.name',
      then: [/missing required option 'instance.name'/],
    },
    { group: 'CREATE SCAN … USING STREAM', sql: "CREATE SCAN v ON t USING STREAM OPTIONS(tunel.id='x')", typo: 'tunel.id', then: [/missing required option 'tunnel.id'/] },
    { group: 'CREATE SCAN … USING BATCH', sql: "CREATE SCAN v ON t USING BATCH OPTIONS(tunnel.idd='x')", typo: 'tunnel.idd', then: [] },
    {
      group: 'CREATE STREAM',
      sql: "CREATE STREAM j OPTIONS(watermark.column='ts', watermark.dealy='1 minute') INSERT INTO s SELECT a FROM v",
      typo: 'watermark.dealy',
      then: [/'watermark.column' needs 'watermark.delay'/],
    },
  ];
  for (const { group, sql, typo, then } of cases) {
    it(group, () => {
      const errors = described(sql);
      expect(errors[0]).toMatch(new RegExp(`^${where(sql, typo)}: unknown option '${typo.replaceAll('.', '\\.')}'`));
      expect(errors.slice(1)).toHaveLength(then.length);
      then.forEach((pattern, i) => expect(errors[i + 1]).toMatch(pattern));
    });
  }

  it('statements keep script order, each led by its key problems', () => {
    const sql = `CREATE TABLE t USING tablestore OPTIONS(tabel.name='T', ${CAT});\nCREATE SCAN v ON t USING STREAM OPTIONS(maxoffsetsperchannel='0', tunnel.idd='x')`;
    expect(described(sql).map((line) => line.replace(/ \(.*\)$/, ''))).toEqual([
      `${where(sql, 'tabel.name')}: unknown option 'tabel.name' — did you mean 'table.name'?`,
      "line 1, col 33: missing required option 'table.name'",
      `${where(sql, 'tunnel.idd')}: unknown option 'tunnel.idd' — did you mean 'tunnel.id'?`,
      `${where(sql, "'0'")}: option 'maxoffsetsperchannel': must be a positive whole number, not '0'`,
    ]);
  });
});
