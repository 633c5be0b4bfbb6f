/**
 * Holds back the VM's free page reporting while the benchmark runs, and puts
 * it back after.
 *
 * On the Firecracker VM the benchmark was written on, the guest kernel hands
 * free pages back to the host (virtio-balloon "free page reporting"). A run
 * that frees memory while it writes (a client that reconnects 32 times does)
 * then finds the pages it fills with page cache handed back, and faults them
 * in from the host: the same 1 MiB `pwrite` takes 2–4 ms instead of 0.25, all
 * of it system CPU of the measured process (docs/performance.md, "The cut
 * target and free page reporting"). A machine without free page reporting
 * never pays that, so the benchmark measures as if on one: this kernel's
 * `page_reporting.min_free_ms` (by its name, how long a page must stay free
 * before it is reported; with it raised, `reported_kib` stood still) is
 * raised for the run and put back after.
 *
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";

const KNOB = "/sys/module/page_reporting/parameters/min_free_ms";
/** Five minutes (this kernel refuses more): far longer than a page freed by one run waits to be filled by the next. */
const HELD_MS = "300000";

/** What the benchmark did to free page reporting, and how to undo it. */
export interface PageReportingHold {
  /** One line for the report's machine facts. */
  readonly description: string;
  /** Puts the knob back as it was (idempotent; safe from a signal handler). */
  restore(): void;
}

function read(): string | null {
  try {
    return readFileSync(KNOB, "utf8").trim();
  } catch {
    return null;
  }
}

/** Raises `min_free_ms` for the run when this machine has the knob and lets us write it. */
export function holdPageReporting(wanted: boolean): PageReportingHold {
  const before = read();
  const none = (description: string): PageReportingHold => ({ description, restore() {} });
  if (before === null) return none("no free page reporting knob on this machine");
  if (!wanted) return none(`left as is (--no-hold): min_free_ms ${before}`);
  try {
    writeFileSync(KNOB, HELD_MS);
  } catch (error) {
    return none(`could not be held back (${(error as Error).message}): min_free_ms ${before}`);
  }
  let restored = false;
  return {
    description:
      `held back for the run: min_free_ms ${before} → ${HELD_MS}, restored after (--no-hold leaves it)`,
    restore(): void {
      if (restored) return;
      restored = true;
      writeFileSync(KNOB, before);
    },
  };
}
