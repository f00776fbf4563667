import { describe, expect, it } from "vitest";
import { MAX_FILE_BYTES, MAX_IMAGES_PER_QUESTION, megabytes, refusal } from "../images";

const file = (name: string, type: string, size = 1000) => ({ name, type, size });

describe("attaching images", () => {
  it("takes the formats models read, up to the size and count limits", () => {
    expect(refusal(file("cat.png", "image/png"), 0)).toBeUndefined();
    expect(refusal(file("cat.webp", "image/webp"), MAX_IMAGES_PER_QUESTION - 1)).toBeUndefined();
  });

  it("says what is wrong otherwise", () => {
    expect(refusal(file("notes.pdf", "application/pdf"), 0)).toMatch(/notes\.pdf is not an image.*PNG, JPEG/);
    expect(refusal(file("huge.png", "image/png", MAX_FILE_BYTES + 1), 0)).toMatch(/huge\.png is 20\.0 MB.*up to 20\.0 MB/);
    expect(refusal(file("one-more.png", "image/png"), MAX_IMAGES_PER_QUESTION)).toMatch(/At most 4 images/);
    expect(megabytes(1.5 * 1024 * 1024)).toBe("1.5 MB");
  });
});
