// Images attached to a question: checked, scaled down in the browser when large, sent as data: URLs.
import { newId } from "./ids";
import type { ImageAttachment } from "./types";

/** What a file may be: the formats every image-capable model endpoint takes. */
export const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"];
/** Largest file accepted (it is scaled down before sending). */
export const MAX_FILE_BYTES = 20 * 1024 * 1024;
export const MAX_IMAGES_PER_QUESTION = 4;
/** Longest side sent to the model; larger images are scaled down (models scale them anyway). */
export const MAX_SIDE_PX = 2048;
/** Files already this small (and no larger than MAX_SIDE_PX) are sent as they are. */
const KEEP_AS_IS_BYTES = 1.5 * 1024 * 1024;
/** A whole request (the conversation and every image in it) must stay under the server's body limit. */
export const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

export function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Why `file` cannot be attached (undefined: it can). */
export function refusal(file: Pick<File, "name" | "type" | "size">, alreadyAttached: number): string | undefined {
  if (!IMAGE_TYPES.includes(file.type)) {
    return `${file.name} is not an image this agent can read: attach PNG, JPEG, WebP or GIF.`;
  }
  if (file.size > MAX_FILE_BYTES) {
    return `${file.name} is ${megabytes(file.size)}: attach images up to ${megabytes(MAX_FILE_BYTES)}.`;
  }
  if (alreadyAttached >= MAX_IMAGES_PER_QUESTION) {
    return `At most ${MAX_IMAGES_PER_QUESTION} images per question.`;
  }
  return undefined;
}

/** The file as an attachment: as it is when small, else scaled to MAX_SIDE_PX and re-encoded as JPEG. */
export async function attachment(file: File): Promise<ImageAttachment> {
  const bitmap = await createImageBitmap(file).catch(() => {
    throw new Error(`${file.name} could not be read as an image.`);
  });
  try {
    const scale = Math.min(1, MAX_SIDE_PX / Math.max(bitmap.width, bitmap.height));
    const dataUrl =
      scale === 1 && file.size <= KEEP_AS_IS_BYTES ? await readAsDataUrl(file) : reencoded(bitmap, scale);
    return { id: newId(), name: file.name, dataUrl, bytes: dataUrl.length };
  } finally {
    bitmap.close();
  }
}

function reencoded(bitmap: ImageBitmap, scale: number): string {
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  const context = canvas.getContext("2d");
  if (!context) throw new Error("This browser cannot scale images down.");
  context.fillStyle = "#ffffff"; // JPEG has no transparency: what was transparent becomes white
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/jpeg", 0.85);
}

function readAsDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(new Error(`${file.name} could not be read.`));
    reader.readAsDataURL(file);
  });
}

/** The image files among pasted or dropped items. */
export function imageFiles(items: DataTransfer | null): File[] {
  return Array.from(items?.files ?? []).filter((file) => file.type.startsWith("image/"));
}
