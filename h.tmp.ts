import sharp from 'sharp';
import { readFileSync } from 'node:fs';
const S = 'test/fixtures/samples/';
const names = ['ladybird','rocket','storm','yellow-flower'];
async function grey(buf: Buffer, n: number, m: number) { return (await sharp(buf).greyscale().resize(n, m, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer()); }
async function dhash(buf: Buffer) { const g = await grey(buf, 9, 8); let h = 0n; for (let y=0;y<8;y++) for (let x=0;x<8;x++) h = (h<<1n) | (g[y*9+x]! > g[y*9+x+1]! ? 1n : 0n); return h; }
function dct1(v: number[]) { const N=v.length; const out=[]; for (let k=0;k<N;k++){let s=0; for(let n=0;n<N;n++) s+=v[n]!*Math.cos(Math.PI/N*(n+0.5)*k); out.push(s);} return out; }
async function phash(buf: Buffer) { const N=32; const g = await grey(buf, N, N); const rows:number[][]=[]; for(let y=0;y<N;y++) rows.push(dct1(Array.from(g.subarray(y*N,(y+1)*N)))); const coef:number[][]=Array.from({length:8},()=>[]); for(let x=0;x<8;x++){ const col=dct1(rows.map(r=>r[x]!)); for(let y=0;y<8;y++) coef[y]![x]=col[y]!;} const flat=coef.flat(); const med=[...flat.slice(1)].sort((a,b)=>a-b)[31]!; let h=0n; for(const c of flat) h=(h<<1n)|(c>med?1n:0n); return h; }
const ham = (a: bigint, b: bigint) => { let x=a^b, c=0; while(x){c+=Number(x&1n); x>>=1n;} return c; };
const variants = async (buf: Buffer) => { const m = await sharp(buf).metadata(); const w=m.width!, h=m.height!; const c=(f:number, ax:number, ay:number)=>{ const cw=Math.round(w*f), ch=Math.round(h*f); return sharp(buf).extract({left:Math.round((w-cw)*ax), top:Math.round((h-ch)*ay), width:cw, height:ch}).jpeg().toBuffer(); };
  return { resized: await sharp(buf).resize(300).jpeg({quality:70}).toBuffer(), webp: await sharp(buf).resize(600).webp({quality:50}).toBuffer(), c85center: await c(0.85,0.5,0.5), c85corner: await c(0.85,0,0), c85corner2: await c(0.85,1,1), c85w: await sharp(buf).extract({left:0,top:0,width:Math.round(w*0.85),height:h}).jpeg().toBuffer(), c75center: await c(0.75,0.5,0.5) }; };
for (const fn of [dhash, phash]) {
  console.log(fn.name);
  const base: Record<string, bigint> = {};
  for (const n of names) { const b = readFileSync(S+n+'.jpg'); base[n] = await fn(b); const v = await variants(b); const row: string[] = []; for (const [k, vb] of Object.entries(v)) row.push(`${k}=${ham(base[n]!, await fn(vb))}`); const dmg = readFileSync(S + ({ladybird:'ladybird-blur',rocket:'rocket-noise',storm:'storm-dark','yellow-flower':'yellow-flower-jpeg'} as any)[n] + '.jpg'); row.push(`damaged=${ham(base[n]!, await fn(dmg))}`); console.log(n, row.join(' ')); }
  const d: number[] = []; for (let i=0;i<names.length;i++) for (let j=i+1;j<names.length;j++) d.push(ham(base[names[i]!]!, base[names[j]!]!)); console.log('different', d.join(' '));
}
