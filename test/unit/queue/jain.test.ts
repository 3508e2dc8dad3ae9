import { describe, expect, it } from "vitest";
import { jainIndex } from "../../../src/queue/index.js";

describe("jainIndex", () => {
  it.each([
    { values: [5, 5, 5], expected: 1 },
    { values: [1, 0], expected: 0.5 },
    { values: [7, 0, 0, 0], expected: 0.25 },
    { values: [3, 1], expected: 0.8 },
    { values: [42], expected: 1 },
    { values: [], expected: 1 },
    { values: [0, 0], expected: 1 },
  ])("$values → $expected", ({ values, expected }) => {
    expect(jainIndex(values)).toBeCloseTo(expected, 12);
  });

  it.each([[[-1, 2]], [[Number.NaN]], [[Number.POSITIVE_INFINITY, 1]]])("rejects %o", (values) => {
    expect(() => jainIndex(values)).toThrow(RangeError);
  });
});
