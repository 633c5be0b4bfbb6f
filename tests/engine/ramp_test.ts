import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  combined,
  DEFAULT_RAMP,
  mbps,
  opensAllAtOnce,
  RAMP_FROM,
  RAMP_GAIN,
  secondPaidOff,
  speedingUp,
  worthProbing,
} from "../../src/engine/ramp.ts";

const window = (megabytesPerSecond: number, ms = 40) => ({
  bytes: megabytesPerSecond * ms * 1000,
  ms,
});

describe("the ramp's decisions", () => {
  it("opens every connection at once below RAMP_FROM bytes, or with two connections or fewer", () => {
    const table: [remaining: number, connections: number, allAtOnce: boolean][] = [
      [RAMP_FROM - 1, 8, true],
      [RAMP_FROM, 8, false],
      [4 * RAMP_FROM, 3, false],
      [4 * RAMP_FROM, 2, true],
      [4 * RAMP_FROM, 1, true],
    ];
    for (const [remaining, connections, allAtOnce] of table) {
      assert.equal(
        opensAllAtOnce(remaining, connections, DEFAULT_RAMP),
        allAtOnce,
        `${remaining} bytes, ${connections} connections`,
      );
    }
    assert.equal(opensAllAtOnce(1, 8, { ...DEFAULT_RAMP, from: 0 }), false);
  });

  it("probes only a first connection at least as fast as fastMbps", () => {
    const fast = DEFAULT_RAMP.fastMbps;
    assert.equal(worthProbing(window(fast * 0.99), DEFAULT_RAMP), false);
    assert.equal(worthProbing(window(fast), DEFAULT_RAMP), true);
    assert.equal(worthProbing(window(50), DEFAULT_RAMP), false); // a CDN's per-connection cap
    assert.equal(worthProbing(window(700), DEFAULT_RAMP), true); // loopback at full speed
    assert.equal(worthProbing({ bytes: 0, ms: 0 }, DEFAULT_RAMP), false);
  });

  it("opens the rest only when two connections carry RAMP_GAIN times as much as one", () => {
    const table: [alone: number, together: number, paidOff: boolean][] = [
      [50, 100, true], // limited per connection
      [300, 300 * RAMP_GAIN, true],
      [300, 300 * RAMP_GAIN * 0.99, false],
      [700, 720, false], // one connection fills the link or the CPU
      [700, 500, false], // two are slower than one
    ];
    for (const [alone, together, paidOff] of table) {
      assert.equal(
        secondPaidOff(window(alone), window(together)),
        paidOff,
        `${alone} → ${together}`,
      );
    }
    // The probe's bytes must be new capacity, not the first one's taken away.
    const together = (total: number, probe: number) => ({
      ...window(total),
      probeBytes: probe * 40_000,
    });
    assert.equal(secondPaidOff(window(50), together(100, 50)), true); // the first kept its 50
    assert.equal(secondPaidOff(window(400), together(640, 320)), false); // the first fell to 80 %
    assert.equal(secondPaidOff(window(400), together(760, 400)), true); // the first kept 90 %
    // Windows of different lengths compare by rate.
    assert.equal(secondPaidOff(window(100, 40), window(160, 80)), true);
    // A window that measured nothing is a doubt, and a doubt opens connections.
    assert.equal(secondPaidOff({ bytes: 0, ms: 40 }, window(1)), true);
    assert.equal(secondPaidOff(window(100), { bytes: 0, ms: 0 }), true);
  });

  it("says a connection still speeds up while a window is over 10 % faster than the one before", () => {
    assert.equal(speedingUp(window(100), window(111)), true);
    assert.equal(speedingUp(window(100), window(109)), false);
    assert.equal(speedingUp(window(100), window(60)), false);
    assert.equal(mbps(combined(window(100), window(60))), 80);
    const probing = { bytes: 4e6, ms: 40, probeBytes: 1e6 };
    assert.deepEqual(combined(probing, probing), { bytes: 8e6, ms: 80, probeBytes: 2e6 });
    assert.equal(mbps({ bytes: 5e6, ms: 50 }), 100);
    assert.equal(mbps({ bytes: 5e6, ms: 0 }), 0);
  });
});
