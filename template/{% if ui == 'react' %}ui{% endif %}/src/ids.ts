/** A unique id (crypto.randomUUID needs a secure context: https or localhost). */
export function newId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return `id-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
