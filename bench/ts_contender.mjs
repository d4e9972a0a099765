// The official TypeScript SDK (@kombo-api/sdk, installed into bench/ by
// run.sh) doing what kombo_contender.lua does, one measurement per process.
//
//   node bench/ts_contender.mjs pages BASE_URL EXPECTED_ITEMS
//   node bench/ts_contender.mjs tags  BASE_URL CALLS
//   node bench/ts_contender.mjs latency BASE_URL EXPECTED_ITEMS ITERATIONS
//   node bench/ts_contender.mjs work - ITEMS ITERATIONS
//   node bench/ts_contender.mjs calibrate - MS_PER_PAGE PER_PAGE
//
// latency walks pages of 100 doing work.lua's loop, written again here,
// ITERATIONS times on each item; work does the work alone; calibrate prints
// the ITERATIONS that make MS_PER_PAGE of work on a page of PER_PAGE items
// in this JavaScript engine (its own count, for the same time as Lua's).
//
// Like the Lua side, it checks every answer and exits non-zero on a wrong one.
import { Kombo } from "@kombo-api/sdk";

const [mode, serverURL, countArg, extraArg] = process.argv.slice(2);
const count = Number(countArg);
if (!mode || !serverURL || !Number.isFinite(count)) {
  console.error("usage: ts_contender.mjs pages|tags|latency|work|calibrate BASE_URL N ...");
  process.exit(2);
}

function workItem(iterations) {
  let x = 0;
  for (let i = 1; i <= iterations; i += 1) x = (x * 31 + i) % 1000003;
  return x;
}

// The fastest of a few runs, as work.lua's calibrate, in CPU time.
function calibrate(msPerPage, perPage) {
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
  let n = 100000;
  let best;
  do {
    n *= 2;
    const t0 = cpu();
    workItem(n);
    best = cpu() - t0;
  } while (best < 0.05);
  for (let i = 0; i < 4; i += 1) {
    const t0 = cpu();
    workItem(n);
    best = Math.min(best, cpu() - t0);
  }
  return Math.round(((n / best) * msPerPage) / 1000 / perPage);
}

if (mode === "calibrate") {
  console.log(calibrate(count, Number(extraArg)));
  process.exit(0);
} else if (mode === "work") {
  let sum = 0;
  for (let i = 0; i < count; i += 1) sum += workItem(Number(extraArg));
  console.log(`items ${count} checksum ${sum}`);
  process.exit(0);
}

const kombo = new Kombo({
  api_key: "bench-key",
  integration_id: "bench",
  server_url: serverURL,
  retry_config: { strategy: "none" },
});

function fail(message) {
  console.error(message);
  process.exit(1);
}

if (mode === "pages") {
  let n = 0;
  const first = await kombo.ats.getApplications({ page_size: 250 });
  for await (const page of first) {
    for (const app of page.result.data.results) {
      if (app.id) n += 1;
    }
  }
  if (n !== count) fail(`walked ${n} applications, want ${count}`);
  console.log(`applications ${n}`);
} else if (mode === "latency") {
  const iterations = Number(extraArg);
  let n = 0;
  let sum = 0;
  const first = await kombo.ats.getApplications({ page_size: 100 });
  for await (const page of first) {
    for (const app of page.result.data.results) {
      if (app.id) n += 1;
      sum += workItem(iterations);
    }
  }
  if (n !== count) fail(`walked ${n} applications, want ${count}`);
  console.log(`applications ${n} checksum ${sum}`);
} else if (mode === "tags") {
  for (let i = 0; i < count; i += 1) {
    const page = await kombo.ats.getTags({});
    const got = page.result.data.results.length;
    if (got !== 5) fail(`getTags: ${got} tags, want 5`);
  }
  console.log(`calls ${count}`);
} else {
  fail(`unknown mode ${mode}`);
}
