// The official TypeScript SDK (@kombo-api/sdk, installed into bench/ by
// run.sh) doing what kombo_contender.lua does, one measurement per process.
//
//   node bench/ts_contender.mjs pages BASE_URL EXPECTED_ITEMS
//   node bench/ts_contender.mjs tags  BASE_URL CALLS
//
// Like the Lua side, it checks every answer and exits non-zero on a wrong one.
import { Kombo } from "@kombo-api/sdk";

const [mode, serverURL, countArg] = process.argv.slice(2);
const count = Number(countArg);
if (!mode || !serverURL || !Number.isFinite(count)) {
  console.error("usage: ts_contender.mjs pages|tags BASE_URL N");
  process.exit(2);
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
