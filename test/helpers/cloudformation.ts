/**
 * Shared by the tests that package stacks offline with osls and read the CloudFormation it writes.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';

/** Runs a command with no AWS credentials (packaging must not need any) and a hard time limit. */
export function spawnOffline(command: string, args: string[]): SpawnSyncReturns<string> {
  return spawnSync(command, args, {
    encoding: 'utf8',
    timeout: 150_000, // a failed package run has been seen to hang: never wait forever
    env: {
      ...process.env,
      ONNXRUNTIME_NODE_INSTALL: 'skip',
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
    },
  });
}

/** The osls CLI (Serverless Framework v3 line) with the given arguments. */
export function osls(args: string[]): SpawnSyncReturns<string> {
  return spawnOffline(process.execPath, ['node_modules/osls/bin/serverless.js', ...args]);
}

/** Like spawnOffline, but throws with the command's output when it fails. */
export function runChecked(command: string, args: string[]): void {
  const result = spawnOffline(command, args);
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`,
    );
  }
}

/**
 * Evaluates the few intrinsic functions templates compute strings and lists with (Sub, Select,
 * Split, Join); `vars` supplies pseudo parameters and references for Fn::Sub.
 */
export function evaluate(node: any, vars: Record<string, string> = {}): any {
  if (typeof node === 'string') return node;
  if (Array.isArray(node)) return node.map((n) => evaluate(n, vars));
  if (node['Fn::Select']) {
    const [index, list] = node['Fn::Select'];
    return evaluate(list, vars)[index];
  }
  if (node['Fn::Split']) {
    const [separator, source] = node['Fn::Split'];
    return evaluate(source, vars).split(separator);
  }
  if (node['Fn::Join']) {
    const [separator, list] = node['Fn::Join'];
    return evaluate(list, vars).join(separator);
  }
  if (node['Fn::Sub']) {
    const [text, map] = Array.isArray(node['Fn::Sub']) ? node['Fn::Sub'] : [node['Fn::Sub'], {}];
    const all: Record<string, string> = { ...vars };
    for (const [k, v] of Object.entries(map)) all[k] = evaluate(v, vars);
    return text.replace(/\$\{([^}]+)\}/g, (_: string, name: string) => {
      if (!(name in all)) throw new Error(`unresolved \${${name}} in ${text}`);
      return all[name];
    });
  }
  throw new Error(`cannot evaluate ${JSON.stringify(node)}`);
}
