import { createDb, poolOf } from './dist/src/store/db.js';
const db = createDb(process.env.DATABASE_URL);
const q = `select 1::int8 as i8, 2::int4 as i4, 1.5::numeric as num, 1.25::numeric(18,10) as num2, now() as tz, now()::timestamp as ts, current_date as d, '{"a":1}'::jsonb as j, '{"a":1}'::json as js, array['a','b'] as arr, array[1,2]::int8[] as arr8, gen_random_uuid() as u, true as b, 1.5::float8 as f8, 1.5::float4 as f4, 'x'::bytea as by, null::int8 as n8, 'a'::char(1) as ch, count(*) as cnt`;
const a = (await db.$queryRawUnsafe(q))[0];
const b = (await poolOf(db).query(q)).rows[0];
for (const k of Object.keys(a)) console.log(k.padEnd(5), typeof a[k], a[k]?.constructor?.name, JSON.stringify(String(a[k])).slice(0,40), '|', typeof b[k], b[k]?.constructor?.name, JSON.stringify(String(b[k])).slice(0,40));
await db.$disconnect();
