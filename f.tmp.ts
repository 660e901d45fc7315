import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import { Scorer } from '#core/model/scorer.ts';
import { prepareImage, resolveLimits } from '#core/model/image.ts';
const s = await Scorer.create({});
const { session, manifest } = s.model;
async function feat(buf: Buffer) {
  const p = await prepareImage(buf, manifest.inputs.image as any, resolveLimits());
  const feeds: any = { pixel_values: { data: p.pixels, dims: [1,3,448,448] }, input_ids: { data: new BigInt64Array(48), dims: [1,48] }, attention_mask: { data: new BigInt64Array(48), dims: [1,48] } };
  const out = await session.run(feeds, ['image_features']);
  const f = out['image_features']!; const [_, C, H, W] = f.dims as number[]; const v = new Float64Array(C!);
  for (let c=0;c<C!;c++){ let sum=0; for(let i=0;i<H!*W!;i++) sum+=f.data[c*H!*W!+i]!; v[c]=sum/(H!*W!); }
  return v;
}
const S = 'test/fixtures/samples/';
const names = ['ladybird','rocket','storm','yellow-flower'];
const cos = (a: Float64Array, b: Float64Array, t=(x:number)=>x) => { let ab=0,aa=0,bb=0; for(let i=0;i<a.length;i++){const x=t(a[i]!),y=t(b[i]!); ab+=x*y; aa+=x*x; bb+=y*y;} return ab/Math.sqrt(aa*bb); };
const variants = async (buf: Buffer) => { const m = await sharp(buf).metadata(); const w=m.width!, h=m.height!; const c=(f:number, ax:number, ay:number)=>{ const cw=Math.round(w*f), ch=Math.round(h*f); return sharp(buf).extract({left:Math.round((w-cw)*ax), top:Math.round((h-ch)*ay), width:cw, height:ch}).jpeg().toBuffer(); };
  return { resized: await sharp(buf).resize(300).jpeg({quality:70}).toBuffer(), c85center: await c(0.85,0.5,0.5), c85corner: await c(0.85,0,0), c85corner2: await c(0.85,1,1), c85w: await sharp(buf).extract({left:0,top:0,width:Math.round(w*0.85),height:h}).jpeg().toBuffer(), c85wr: await sharp(buf).extract({left:w-Math.round(w*0.85),top:0,width:Math.round(w*0.85),height:h}).jpeg().toBuffer(), c75center: await c(0.75,0.5,0.5), c70corner: await c(0.7,0,1) }; };
const base: Record<string, Float64Array> = {};
const tf = (x:number)=>Math.sqrt(x);
for (const n of names) { const b = readFileSync(S+n+'.jpg'); base[n] = await feat(b); const v = await variants(b); const row: string[] = []; for (const [k, vb] of Object.entries(v)) row.push(`${k}=${cos(base[n]!, await feat(vb), tf).toFixed(3)}`); console.log(n, row.join(' ')); }
const d: string[] = []; for (let i=0;i<names.length;i++) for (let j=i+1;j<names.length;j++) d.push(cos(base[names[i]!]!, base[names[j]!]!, tf).toFixed(3)); console.log('different', d.join(' '));
