/** What the command-line scripts share: how they fail, and how they read the configuration. */
import { ConfigError, parseConfig, type ConfigDraft } from '../src/config.js';

/** Prints the message and exits 1: the end of a script that cannot go on. */
export function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** The configuration from the environment, or every problem in it and exit 1. */
export function configOrExit(): ConfigDraft {
  try {
    return parseConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}
