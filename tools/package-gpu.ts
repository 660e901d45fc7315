/**
 * `npm run package:gpu -- --param="vpcId=vpc-..." --param="subnetIds=subnet-a,subnet-b" ...`: packages the
 * GPU stack (serverless.gpu.yml) offline into .serverless-gpu/, its own folder, so the zips `npm run
 * package` wrote to .serverless/ stay. (osls removes <service dir>/.serverless whatever --package says,
 * so the GPU stack is packaged from a private copy of its two files.) Without the required parameters it names them (osls would only say
 * "Cannot resolve variable") and exits 2. STAGE (default dev) as for `npm run package`.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** serverless.gpu.yml's parameters without a default (its params.default comment lists them). */
export const REQUIRED_PARAMS = {
  vpcId: 'VPC of the subnets below, e.g. vpc-0abc',
  subnetIds: 'comma-separated private subnets in at least two AZs, e.g. subnet-a,subnet-b',
  sourceSecurityGroupId: "the edge functions' security group, the only source allowed on port 8080",
  scorerImage: '<account>.dkr.ecr.<region>.amazonaws.com/<repo>@sha256:<digest> (Dockerfile.gpu)',
} as const;

export const GPU_PACKAGE_DIR = '.serverless-gpu';

/** The osls arguments, or the names of the required parameters missing from args. */
export function gpuPackageArgs(
  args: readonly string[],
  stage: string,
): { ok: true; args: string[] } | { ok: false; missing: string[] } {
  const given = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = a.startsWith('--param=')
      ? a.slice('--param='.length)
      : a === '--param'
        ? args[i + 1]
        : undefined;
    if (value) given.add(value.replace(/^["']/, '').split('=')[0]!);
  }
  const missing = Object.keys(REQUIRED_PARAMS).filter((p) => !given.has(p));
  if (missing.length) return { ok: false, missing };
  return {
    ok: true,
    args: ['package', '--config', 'serverless.gpu.yml', '--stage', stage, ...args],
  };
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  const plan = gpuPackageArgs(process.argv.slice(2), process.env['STAGE'] || 'dev');
  if (!plan.ok) {
    console.error(
      `error: serverless.gpu.yml needs ${plan.missing.join(', ')}:\n` +
        plan.missing
          .map((p) => `  --param="${p}=..."  ${REQUIRED_PARAMS[p as keyof typeof REQUIRED_PARAMS]}`)
          .join('\n') +
        `\ne.g. npm run package:gpu -- ${Object.keys(REQUIRED_PARAMS)
          .map((p) => `--param="${p}=..."`)
          .join(' ')}\n` +
        '(docs/DEPLOY.md Part B)',
    );
    process.exit(2);
  }
  const root = resolve(import.meta.dirname, '..');
  const service = mkdtempSync(join(tmpdir(), 'mmlq-gpu-service-'));
  try {
    for (const f of ['serverless.gpu.yml', 'shared-params.yml'])
      copyFileSync(join(root, f), join(service, f));
    symlinkSync(join(root, 'node_modules'), join(service, 'node_modules'));
    const out = join(root, GPU_PACKAGE_DIR);
    rmSync(out, { recursive: true, force: true });
    const osls = join(root, 'node_modules/osls/bin/serverless.js');
    const run = spawnSync(process.execPath, [osls, ...plan.args, '--package', out], {
      cwd: service,
      stdio: 'inherit',
      timeout: 300_000,
    });
    if (run.status === 0) console.log(`GPU stack packaged into ${GPU_PACKAGE_DIR}/`);
    process.exitCode = run.status ?? 1;
  } finally {
    rmSync(service, { recursive: true, force: true });
  }
}
