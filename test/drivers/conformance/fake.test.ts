// The FakeDriver against the conformance suite: what tests above the driver seam use
// must behave like the real drivers.
import { FakeDriver } from "../fake-driver.ts";
import { driverConformance } from "./driver-conformance.ts";

driverConformance("fake", async (t) => {
  const driver = new FakeDriver();
  t.after(() => driver.dispose());
  return { driver, crash: (sandboxId) => driver.crash(sandboxId) };
});
