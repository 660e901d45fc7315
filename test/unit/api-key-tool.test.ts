/** tools/api-key.ts (`npm run api-key -- create --name <who>`): a usable key, its entry, working commands. */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { hashKey, KEY_PATTERN, parseKeyList } from '#core/api-auth/keys.ts';
import { apiKeyCommand, USAGE } from '#tools/api-key.ts';

describe('npm run api-key', () => {
  it('creates a key whose entry the authorizer accepts, for the stage parameter (the script itself)', () => {
    const out = spawnSync(
      process.execPath,
      [
        'node_modules/tsx/dist/cli.mjs',
        'tools/api-key.ts',
        'create',
        '--name',
        'ci',
        '--stage',
        'prod',
        '--json',
      ],
      { encoding: 'utf8' },
    );
    expect(out.status).toBe(0);
    const { key, entry, parameter } = JSON.parse(out.stdout);
    expect(key).toMatch(KEY_PATTERN);
    expect(entry).toMatchObject({ sha256: hashKey(key), name: 'ci' });
    expect(parseKeyList(JSON.stringify([entry]), 'list')).toEqual([entry]);
    expect(parameter).toBe('/mmlq-edge/prod/api-keys');
  });

  it('prints the key once, the entry, and shell commands that parse', () => {
    const out = apiKeyCommand(['create', '--name', 'wordpress-prod', '--region', 'eu-west-1']);
    expect(out.code).toBe(0);
    const key = /^ {2}(mmlq_\S+)$/m.exec(out.stdout)![1]!;
    expect(out.stdout.split(key)).toHaveLength(2);
    const commands = out.stdout
      .split('\n')
      .filter((l) => /^ {2}(aws | {2}\| jq)/.test(l))
      .join('\n');
    expect(commands).toContain(
      "aws ssm put-parameter --region eu-west-1 --name /mmlq-edge/dev/api-keys --type SecureString --value '[{",
    );
    expect(commands).toContain(hashKey(key));
    expect(spawnSync('bash', ['-n'], { input: commands }).status).toBe(0);
  });

  it.each([
    [['create'], 'Expected --name to say who holds the key'],
    [['create', '--name', "x' ; rm -rf / #"], 'Expected --name to say who holds the key'],
    [['create', '--name', 'ci', '--parameter', "/x'y"], 'Expected --parameter to be an SSM parameter name'],
    [['create', '--name', 'ci', '--region', 'eu west'], 'Expected --region to be an AWS region'],
    [['delete', '--name', 'ci'], 'Expected the command "create" but received "delete"'],
    [['create', '--nmae', 'ci'], "Unknown option '--nmae'"],
  ])('refuses %j with a message and the usage, exit 2', (args, message) => {
    const out = apiKeyCommand(args);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(message);
    expect(out.stderr).toContain(USAGE);
  });
});
