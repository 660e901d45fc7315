import sharp from 'sharp';
import { readdirSync, existsSync, statSync } from 'node:fs';
import { join, basename } from 'node:path';
const out = '/tmp/crop/photos';
const srcs: string[] = [];
for (const f of readdirSync('/usr/share/backgrounds/mate/nature')) srcs.push(join('/usr/share/backgrounds/mate/nature', f));
for (const f of ['astronaut.png','camera.png','chelsea.png','coffee.png','coins.png','hubble_deep_field.jpg','motorcycle_left.png','rocket.jpg','grass.png','gravel.png','brick.png','moon.png','page.png','text.png','retina.jpg','immunohistochemistry.png','color.png','horse.png','cell.png','logo.png']) { const p = join('/usr/lib/python3/dist-packages/skimage/data', f); if (existsSync(p)) srcs.push(p); }
for (const d of readdirSync('/usr/share/wallpapers')) { const dir = join('/usr/share/wallpapers', d, 'contents/images'); if (!existsSync(dir)) continue; const fs = readdirSync(dir).filter(f=>/\.(png|jpe?g)$/i.test(f)).map(f=>join(dir,f)); if (!fs.length) continue; fs.sort((a,b)=>statSync(a).size-statSync(b).size); srcs.push(fs.find(f => /1920x1080|2560x1440|1920x1200/.test(f)) ?? fs[0]!); }
for (const s of srcs) { const name = (s.includes('wallpapers') ? 'kde-' + s.split('/')[4] : basename(s).replace(/\.\w+$/, '')) + '.jpg'; await sharp(s).rotate().resize(1024, 1024, { fit: 'inside', withoutEnlargement: true }).flatten({background:'#fff'}).jpeg({ quality: 92 }).toFile(join(out, name)); }
console.log(srcs.length);
