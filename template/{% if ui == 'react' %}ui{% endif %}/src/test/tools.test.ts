import { describe, expect, it } from "vitest";
import { isNotRun, isToolError, pretty, toolLabel } from "../tools";

const info = (description: string) => ({ name: "x", description, server: null });

describe("tool steps", () => {
  it("label a step with a short description, else the name in words", () => {
    expect(toolLabel("search_docs", info("Search the product docs."))).toBe("Search the product docs");
    const long = 'Current date and time in an IANA time zone such as "Europe/Paris" (default UTC).';
    expect(toolLabel("current_time", info(long))).toBe("Current time");
    expect(toolLabel("getWeatherForecast")).toBe("Get weather forecast");
    expect(toolLabel("main__default__lookup_customer")).toBe("Lookup customer");
  });

  it("pretty-print JSON and leave other text alone", () => {
    expect(pretty('{"a":1,"b":[true]}')).toBe('{\n  "a": 1,\n  "b": [\n    true\n  ]\n}');
    expect(pretty("plain text")).toBe("plain text");
  });

  it("recognise the failures tools report as text", () => {
    expect(isToolError("Error: current_time failed: boom")).toBe(true);
    expect(isToolError("An error occurred while running the tool. Please try again. Error: x")).toBe(true);
    expect(isToolError("2026-01-01T00:00:00+00:00")).toBe(false);
    expect(isToolError("No errors found")).toBe(false);
    expect(isToolError(undefined)).toBe(false);
  });

  it("recognise calls that were not run for want of an approval", () => {
    expect(isNotRun("Not run: the user declined this call of save_note.")).toBe(true);
    expect(isNotRun("Not running late")).toBe(false);
    expect(isNotRun(undefined)).toBe(false);
  });
});
