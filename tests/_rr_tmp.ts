import * as m from "rrule";
const { RRule } = (m as any).default ?? m;
function t(rule: string, years: number) {
  const start = Date.UTC(9899, 0, 1);
  const r = new RRule({ ...RRule.parseString(rule), dtstart: new Date(start), tzid: null });
  const s = performance.now();
  const x = r.between(
    new Date(start),
    new Date(start + years * 365.25 * 86400000),
    true,
    (_d: Date, i: number) => i < 1,
  );
  console.log(rule, years, x.length, (performance.now() - s).toFixed(1));
}
t("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", 100);
t("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", 10);
t("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", 100);
t("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30", 100);
t("FREQ=WEEKLY;BYMONTH=2;BYMONTHDAY=30", 100);
t("FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=30", 1);
t("FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30", 1);
t("FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30", 1);
t("FREQ=MINUTELY;BYHOUR=25", 1);
