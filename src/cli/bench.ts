/** `llmlb bench <name>`: runs one benchmark; each prints a table and writes JSON. */
export async function benchCommand(name: string, o: { out?: string; quick?: boolean }): Promise<void> {
  const opts = { ...(o.out ? { out: o.out } : {}), quick: o.quick === true };
  switch (name) {
    case "overhead": {
      const { runOverheadBench } = await import("../../bench/overhead.js");
      await runOverheadBench(opts);
      break;
    }
    case "select": {
      const { runSelectBench } = await import("../../bench/select.js");
      await runSelectBench(opts.out ? { out: opts.out } : {});
      break;
    }
    default:
      throw new Error(`unknown benchmark ${JSON.stringify(name)}; valid: overhead, select`);
  }
  process.exit(0);
}
