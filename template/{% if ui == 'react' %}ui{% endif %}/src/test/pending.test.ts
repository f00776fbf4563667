import { describe, expect, it } from "vitest";
import { forgetPending, keepPending, readPending } from "../chat/pending";

class MapStorage {
  readonly values = new Map<string, string>();
  getItem = (key: string) => this.values.get(key) ?? null;
  setItem = (key: string, value: string) => void this.values.set(key, value);
  removeItem = (key: string) => void this.values.delete(key);
}

describe("the answer in flight, kept for a reload", () => {
  it("is kept, read back, and forgotten only by its own response", () => {
    const storage = new MapStorage();
    const answer = { responseId: "resp_1", ref: { kind: "client", key: "k" } as const, questionIndex: 2 };
    keepPending(answer, storage);
    expect(readPending(storage)).toEqual(answer);
    forgetPending("resp_other", storage);
    expect(readPending(storage)).toEqual(answer);
    forgetPending("resp_1", storage);
    expect(readPending(storage)).toBeUndefined();
  });

  it("ignores what is not its own", () => {
    const storage = new MapStorage();
    for (const junk of ["not json", "null", '{"responseId": 1}', '{"responseId": "r", "questionIndex": 0, "ref": {}}']) {
      storage.setItem("agent-chat:pending-answer", junk);
      expect(readPending(storage)).toBeUndefined();
    }
  });
});
