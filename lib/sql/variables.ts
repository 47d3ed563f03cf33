/**
 * `${name}` in OPTIONS values, filled from session variables — what `spark-sql -d name=value`
 * (`--hivevar`) does, so one script serves every installation (endpoint, keys, tunnel id).
 * Only option values are substituted, after parsing: every location in the script stays exact.
 * `$${name}` is a literal `${name}`. An unknown variable is an error at its value.
 */
import * as E from 'fp-ts/lib/Either.js';
import { Redacted, type OptionList, type Statement } from './ast.js';
import { closestMatch, sqlError, type SqlError } from './errors.js';

const REFERENCE = /\$?\$\{([A-Za-z_][A-Za-z0-9_.]*)\}/g;

export function substituteVariables(statements: readonly Statement[], variables: Readonly<Record<string, string>>): E.Either<readonly SqlError[], readonly Statement[]> {
  const errors: SqlError[] = [];
  const fill = (text: string, at: Parameters<typeof sqlError>[0]): string =>
    text.replace(REFERENCE, (match: string, name: string) => {
      if (match.startsWith('$$')) return match.slice(1);
      // own members only: ${constructor} is not a variable every object has
      const value = Object.hasOwn(variables, name) ? variables[name] : undefined;
      if (value !== undefined) return value;
      const suggestion = closestMatch(name, Object.keys(variables));
      errors.push(
        sqlError(at, `unknown variable '\${${name}}'`, suggestion === undefined ? `give it with --var ${name}=…${/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? ` or the environment variable OTSFLOW_VAR_${name}` : ''} (or write $\${${name}} for the literal text)` : `did you mean '\${${suggestion}}'?`),
      );
      return match;
    });
  const options = (list: OptionList | null): OptionList | null =>
    list === null
      ? null
      : {
          ...list,
          entries: list.entries.map((entry) => {
            const value = entry.value;
            if (value.kind === 'SecretOptionValue') {
              const secret = value.secret.reveal();
              const filled = fill(secret, value.loc);
              return filled === secret ? entry : { ...entry, value: { ...value, secret: new Redacted(filled) } };
            }
            if (value.token !== 'string') return entry;
            const filled = fill(value.text, value.loc);
            return filled === value.text ? entry : { ...entry, value: { ...value, text: filled } };
          }),
        };
  const statement = (node: Statement): Statement => {
    switch (node.kind) {
      case 'CreateTable':
        return { ...node, options: options(node.options) as OptionList };
      case 'CreateScan':
        return { ...node, options: options(node.options) };
      case 'CreateStream':
        return { ...node, options: options(node.options) };
      case 'Explain':
        return { ...node, statement: statement(node.statement) as typeof node.statement };
      default:
        return node;
    }
  };
  const result = statements.map(statement);
  return errors.length > 0 ? E.left(errors) : E.right(result);
}
