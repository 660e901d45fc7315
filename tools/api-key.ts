/**
 * Makes an API key for the HTTP API (docs/API.md, "Authentication") and says how to add it:
 *   npm run api-key -- create --name ci [--stage prod] [--region eu-west-1] [--parameter /x/y] [--json]
 * The key is printed once and stored nowhere; the stack keeps only its sha256, in the SSM SecureString
 * /mmlq-edge/<stage>/api-keys (serverless.yml param apiKeysParameter), a JSON list of entries.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { newApiKey } from '#core/api-auth/keys.ts';

export const USAGE =
  'Usage: npm run api-key -- create --name <who> [--stage dev] [--region <aws region>] [--parameter /mmlq-edge/<stage>/api-keys] [--json]';

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

const fail = (message: string): Outcome => ({ code: 2, stdout: '', stderr: `${message}\n${USAGE}\n` });

export function apiKeyCommand(argv: string[]): Outcome {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    return fail((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { code: 0, stdout: `${USAGE}\n`, stderr: '' };
  if (positionals[0] !== 'create' || positionals.length !== 1) {
    return fail(`Expected the command "create" but received ${JSON.stringify(positionals.join(' '))}`);
  }
  const name = values.name?.trim();
  if (!name || !/^[\w.@-]{1,64}$/.test(name)) {
    return fail(
      `Expected --name to say who holds the key (1 to 64 letters, digits, "_", ".", "@" or "-") but received ${JSON.stringify(values.name ?? null)}`,
    );
  }
  const parameter = values.parameter ?? `/mmlq-edge/${values.stage}/api-keys`;
  if (!/^\/[\w./-]+$/.test(parameter)) {
    return fail(
      `Expected --parameter to be an SSM parameter name starting with "/" but received "${parameter}"`,
    );
  }
  if (values.region !== undefined && !/^[a-z0-9-]+$/.test(values.region)) {
    return fail(`Expected --region to be an AWS region like eu-west-1 but received "${values.region}"`);
  }

  const { key, entry } = newApiKey(name);
  if (values.json) return { code: 0, stdout: `${JSON.stringify({ key, entry, parameter })}\n`, stderr: '' };
  const json = JSON.stringify(entry);
  const region = values.region ? ` --region ${values.region}` : '';
  const stdout = `API key for "${name}" (shown only now: hand it to its holder, e.g. through a secret manager):

  ${key}

Callers send it as:  Authorization: Bearer ${key.slice(0, 9)}…

Its entry in the key list (only the key's sha256 is stored):

  ${json}

Add the entry to the SSM parameter ${parameter}:

  # the first key of the stage
  aws ssm put-parameter${region} --name ${parameter} --type SecureString --value '[${json}]'

  # or, when the parameter exists, append it (jq)
  aws ssm get-parameter${region} --name ${parameter} --with-decryption --query Parameter.Value --output text \\
    | jq -c '. + [${json}]' > api-keys.json
  aws ssm put-parameter${region} --name ${parameter} --type SecureString --overwrite --value file://api-keys.json

The authorizer reads the list again within 60 s (API_KEYS_TTL_S). To revoke the key, remove its entry:
  jq -c 'map(select(.id != "${entry.id}"))'  (then put-parameter --overwrite as above); API Gateway may
  still accept it for apiAuthCacheTtl (300 s) after the authorizer has read the new list.
`;
  return { code: 0, stdout, stderr: '' };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      stage: { type: 'string', default: 'dev' },
      region: { type: 'string' },
      parameter: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { code, stdout, stderr } = apiKeyCommand(process.argv.slice(2));
  process.stdout.write(stdout);
  process.stderr.write(stderr);
  process.exitCode = code;
}
