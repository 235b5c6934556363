// Read an iCalendar file from stdin the way Thunderbird does (Mozilla's ical.js) and print each
// event as JSON: its UID, SUMMARY, SEQUENCE, start and end as UTC instants (or all-day dates),
// and its alarms' triggers in seconds. Time zones come only from the file's own VTIMEZONE blocks.
import ICAL from "ical.js";
import { readFileSync } from "node:fs";

const root = new ICAL.Component(ICAL.parse(readFileSync(0, "utf8")));
for (const vtz of root.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(new ICAL.Timezone(vtz));
}
const when = (t) => (t.isDate ? t.toString() : t.toJSDate().toISOString());
const events = root.getAllSubcomponents("vevent").map((comp) => {
  const ev = new ICAL.Event(comp);
  return {
    uid: ev.uid,
    summary: ev.summary,
    sequence: ev.sequence,
    location: ev.location,
    start: when(ev.startDate),
    end: when(ev.endDate),
    start_zone: ev.startDate.zone ? ev.startDate.zone.tzid : null,
    alarms: comp.getAllSubcomponents("valarm").map((a) => a.getFirstPropertyValue("trigger").toSeconds()),
  };
});
process.stdout.write(JSON.stringify(events));
