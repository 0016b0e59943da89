// A small command-line flag reader for the bench and simulator scripts: `--name value`, `--name=value`
// and bare `--flag` booleans, with unknown flags refused so a typo never runs the wrong experiment.

export interface FlagSpec {
  /** Flags that take no value. */
  booleans: readonly string[];
  /** Flags that take a number. */
  numbers: readonly string[];
  /** Flags that take any other value (a URL, a name). */
  strings?: readonly string[];
}

export interface ParsedFlags {
  bool(name: string): boolean;
  num(name: string, fallback: number): number;
  /** A string flag's value; undefined when it was not given. */
  str(name: string): string | undefined;
  has(name: string): boolean;
}

export function parseFlags(argv: readonly string[], spec: FlagSpec, usage: string): ParsedFlags {
  const values = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(usage);
      process.exit(0);
    }
    if (!arg.startsWith('--')) fail(`unexpected argument "${arg}"`, usage);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (spec.booleans.includes(name)) {
      if (eq >= 0) fail(`--${name} takes no value`, usage);
      values.set(name, true);
    } else if (spec.numbers.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || !Number.isFinite(Number(value))) fail(`--${name} needs a number`, usage);
      values.set(name, value);
    } else if (spec.strings?.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '' || (eq < 0 && value.startsWith('--'))) fail(`--${name} needs a value`, usage);
      values.set(name, value);
    } else {
      fail(`unknown flag --${name}`, usage);
    }
  }
  return {
    bool: (name) => values.get(name) === true,
    num: (name, fallback) => {
      const v = values.get(name);
      return typeof v === 'string' ? Number(v) : fallback;
    },
    str: (name) => {
      const v = values.get(name);
      return typeof v === 'string' ? v : undefined;
    },
    has: (name) => values.has(name),
  };
}

function fail(message: string, usage: string): never {
  console.error(`${message}\n\n${usage}`);
  process.exit(2);
}
