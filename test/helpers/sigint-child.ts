/**
 * A long command in a real process for test/integration/shutdown.test.ts: the default model scores
 * the image at argv[2] in batches of 8 until killed, printing "batch N" after each, with Ctrl-C wired as
 * the CLI wires it (cli/interrupts.ts). It keeps scoring after the first Ctrl-C so that the second
 * one lands while onnxruntime runs.
 */
import { readFile } from 'node:fs/promises';
import { stopOnSigint } from '#core/cli/interrupts.ts';
import { Scorer } from '#core/model/scorer.ts';

const scorer = await Scorer.create({ log: () => {} });
const bytes = await readFile(process.argv[2]!);
stopOnSigint((text) => process.stderr.write(text));
for (let batch = 1; ; batch++) {
  await scorer.scoreMany(Array.from({ length: 8 }, (_, i) => ({ id: String(i), image: { bytes } })));
  process.stdout.write(`batch ${batch}\n`);
}
