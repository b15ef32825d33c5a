/** Catch-up policies after a simulated outage: three hours and ten minutes with no tick. */
import assert from "node:assert/strict";
import { dbTest } from "../support/db.ts";
import { Clock, clockApp, deploy, fireTimesOf, registerFlow, tick } from "./helpers.ts";

const quarter = (hh: number, mm: number) =>
  `2026-11-23T${String(hh).padStart(2, "0")}:${String(mm).padStart(2, "0")}:00.000Z`;

dbTest(
  "after a 3-hour outage: none skips, latest runs the newest, all runs those within max_late",
  async (db) => {
    const clock = Clock.at("2026-11-23T08:00:00Z");
    const { call } = clockApp(db.sql, clock);
    await registerFlow(call);
    const every15 = { cron: "*/15 * * * *" };
    const d = await deploy(call, {
      name: "outage",
      schedules: [
        { ...every15, catchup: "none" },
        { ...every15 }, // latest is the default
        { ...every15, catchup: "all" }, // max_late defaults to one hour
        { ...every15, catchup: "all", max_late: 4 * 3600 },
      ],
    });
    const [none, latest, lastHour, everything] = d.schedules.map((s: { id: string }) => s.id);
    assert.equal((await tick(call)).created, 0); // 08:00: next fire time is 08:15

    clock.set("2026-11-23T11:10:00Z"); // nothing ticked since 08:00
    const recovered = await tick(call);
    assert.equal(recovered.created, 0 + 1 + 4 + 12);
    assert.deepEqual(await fireTimesOf(db.sql, none), []);
    assert.deepEqual(await fireTimesOf(db.sql, latest), [quarter(11, 0)]);
    assert.deepEqual(await fireTimesOf(db.sql, lastHour), [
      quarter(10, 15),
      quarter(10, 30),
      quarter(10, 45),
      quarter(11, 0),
    ]);
    const all = [];
    for (let m = 8 * 60 + 15; m <= 11 * 60; m += 15) all.push(quarter(Math.floor(m / 60), m % 60));
    assert.deepEqual(await fireTimesOf(db.sql, everything), all);
    assert.equal((await tick(call)).created, 0, "a repeated tick owes nothing more");

    // Back to normal: every policy fires 11:15 on time, and a tick 30 s late is still on time.
    const read = await call("GET", "/deploy/deployments/outage");
    for (const s of read.body.schedules) assert.equal(s.next_fire_at, quarter(11, 15));
    clock.set("2026-11-23T11:15:30Z");
    assert.equal((await tick(call)).created, 4);
    for (const id of [none, latest, lastHour, everything]) {
      assert.equal((await fireTimesOf(db.sql, id)).at(-1), quarter(11, 15));
    }
  },
);

dbTest("a late tick within the grace is on time, even with catch-up none", async (db) => {
  const clock = Clock.at("2026-11-23T08:00:00Z");
  const { call } = clockApp(db.sql, clock);
  await registerFlow(call);
  const d = await deploy(call, {
    name: "late",
    schedules: [{ cron: "5 8 * * *", catchup: "none" }],
  });
  clock.set("2026-11-23T08:05:50Z"); // 50 s late: pg_cron's minute tick, not an outage
  assert.equal((await tick(call)).created, 1);
  assert.deepEqual(await fireTimesOf(db.sql, d.schedules[0].id), ["2026-11-23T08:05:00.000Z"]);
});
