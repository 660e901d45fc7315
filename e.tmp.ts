import sharp from 'sharp';
import { readFileSync, readdirSync } from 'node:fs';
import { Scorer } from '#core/model/scorer.ts';
import { prepareImage, resolveLimits } from '#core/model/image.ts';
const s = await Scorer.create({});
const { session, manifest } = s.model;
async function feat(buf: Buffer) {
  const p = await prepareImage(buf, manifest.inputs.image as any, resolveLimits());
  const feeds: any = { pixel_values: { data: p.pixels, dims: [1,3,448,448] }, input_ids: { data: new BigInt64Array(48), dims: [1,48] }, attention_mask: { data: new BigInt64Array(48), dims: [1,48] } };
  const out = await session.run(feeds, ['image_features']);
  const f = out['image_features']!; const [_, C, H, W] = f.dims as number[]; const v = new Float64Array(C!);
  for (let c=0;c<C!;c++){ let sum=0; for(let i=0;i<H!*W!;i++) sum+=f.data[c*H!*W!+i]!; v[c]=Math.sqrt(sum/(H!*W!)); }
  return v;
}
async function grey(buf: Buffer, n: number, m: number) { return (await sharp(buf).greyscale().resize(n, m, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer()); }
async function dhash(buf: Buffer) { const g = await grey(buf, 9, 8); let h = 0n; for (let y=0;y<8;y++) for (let x=0;x<8;x++) h = (h<<1n) | (g[y*9+x]! > g[y*9+x+1]! ? 1n : 0n); return h; }
function dct1(v: number[]) { const N=v.length; const out=[]; for (let k=0;k<N;k++){let s=0; for(let n=0;n<N;n++) s+=v[n]!*Math.cos(Math.PI/N*(n+0.5)*k); out.push(s);} return out; }
async function phash(buf: Buffer) { const N=32; const g = await grey(buf, N, N); const rows:number[][]=[]; for(let y=0;y<N;y++) rows.push(dct1(Array.from(g.subarray(y*N,(y+1)*N)))); const coef:number[][]=Array.from({length:8},()=>[]); for(let x=0;x<8;x++){ const col=dct1(rows.map(r=>r[x]!)); for(let y=0;y<8;y++) coef[y]![x]=col[y]!;} const flat=coef.flat(); const med=[...flat.slice(1)].sort((a,b)=>a-b)[31]!; let h=0n; for(const c of flat) h=(h<<1n)|(c>med?1n:0n); return h; }
const ham = (a: bigint, b: bigint) => { let x=a^b, c=0; while(x){c+=Number(x&1n); x>>=1n;} return c; };
const cosd = (a: Float64Array, b: Float64Array) => { let ab=0,aa=0,bb=0; for(let i=0;i<a.length;i++){ab+=a[i]!*b[i]!; aa+=a[i]!**2; bb+=b[i]!**2;} return 1-ab/Math.sqrt(aa*bb); };
const variants = async (buf: Buffer) => { const m = await sharp(buf).metadata(); const w=m.width!, h=m.height!; const c=(f:number, ax:number, ay:number, fy=f)=>{ const cw=Math.round(w*f), ch=Math.round(h*fy); return sharp(buf).extract({left:Math.round((w-cw)*ax), top:Math.round((h-ch)*ay), width:cw, height:ch}).jpeg({quality:85}).toBuffer(); };
  return { resized300: await sharp(buf).resize(300).jpeg({quality:70}).toBuffer(), webp600: await sharp(buf).resize(600).webp({quality:50}).toBuffer(), c85c: await c(0.85,0.5,0.5), c85tl: await c(0.85,0,0), c85br: await c(0.85,1,1), c85tr: await c(0.85,1,0), c85bl: await c(0.85,0,1), c85wl: await c(0.85,0,0,1), c85wr: await c(0.85,1,0,1), c85h: await c(1,0,0,0.85) }; };
const dir = '/tmp/crop/photos';
const files = readdirSync(dir).sort();
const methods: Record<string, (b: Buffer) => Promise<any>> = { dhash, phash, feat };
const dist = (m: string, a: any, b: any) => m === 'feat' ? cosd(a, b) : ham(a, b);
const base: Record<string, Record<string, any>> = {};
const near: Record<string, {name:string,v:string,d:number}[]> = { dhash: [], phash: [], feat: [] };
for (const f of files) { const b = readFileSync(`${dir}/${f}`); const v = await variants(b); base[f] = {};
  for (const m in methods) { base[f]![m] = await methods[m]!(b); for (const [k, vb] of Object.entries(v)) near[m]!.push({ name: f, v: k, d: dist(m, base[f]![m], await methods[m]!(vb)) }); } }
for (const m in methods) {
  const diff: {a:string,b:string,d:number}[] = []; for (let i=0;i<files.length;i++) for (let j=i+1;j<files.length;j++) diff.push({a:files[i]!, b:files[j]!, d: dist(m, base[files[i]!]![m], base[files[j]!]![m])});
  diff.sort((x,y)=>x.d-y.d); const nn = [...near[m]!].sort((x,y)=>y.d-x.d);
  const q = (xs: number[], p: number) => [...xs].sort((a,b)=>a-b)[Math.floor(p*(xs.length-1))]!;
  console.log(`== ${m}: near max ${nn[0]!.d.toFixed(3)} p95 ${q(nn.map(x=>x.d),0.95).toFixed(3)} p50 ${q(nn.map(x=>x.d),0.5).toFixed(3)}; diff min ${diff[0]!.d.toFixed(3)} p1 ${q(diff.map(x=>x.d),0.01).toFixed(3)} p5 ${q(diff.map(x=>x.d),0.05).toFixed(3)} p50 ${q(diff.map(x=>x.d),0.5).toFixed(3)}`);
  console.log(' worst near:', nn.slice(0,6).map(x=>`${x.name}/${x.v}=${x.d.toFixed(3)}`).join(' '));
  console.log(' closest diff:', diff.slice(0,6).map(x=>`${x.a}~${x.b}=${x.d.toFixed(3)}`).join(' '));
  for (const T of m==='feat' ? [0.05,0.08,0.1,0.12,0.15] : [6,8,10,12,14,16,20]) console.log(`  T=${T}: near within ${(near[m]!.filter(x=>x.d<=T).length/near[m]!.length*100).toFixed(1)}%  diff within ${diff.filter(x=>x.d<=T).length}/${diff.length}`);
  if (m==='feat') { const byV: Record<string, number[]> = {}; for (const x of near[m]!) (byV[x.v] ??= []).push(x.d); console.log(Object.entries(byV).map(([k,v])=>`${k}:${Math.max(...v).toFixed(3)}`).join(' ')); }
}
