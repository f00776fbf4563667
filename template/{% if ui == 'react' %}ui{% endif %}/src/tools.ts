// Tool steps for people: a label per tool, arguments and results made readable, errors recognised.
import type { ToolInfo } from "./api/client";

const SHORT_DESCRIPTION = 48;

/** A label for a step: the tool's description when it is short, else its name in words
 * (`current_time` -> "Current time"). */
export function toolLabel(name: string, info?: ToolInfo): string {
  const first = info?.description.split(/(?<=\.)\s|\n/)[0]?.replace(/\.$/, "").trim() ?? "";
  if (first && first.length <= SHORT_DESCRIPTION) return first;
  const words = name
    .replace(/^.*__/, "") // MCP tools named catalog__schema__function: the function
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_\-.]+/g, " ")
    .trim()
    .toLowerCase();
  return words ? words[0]!.toUpperCase() + words.slice(1) : name;
}

/** JSON indented for reading; other text as it is. */
export function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** Whether a tool's result reports a failure: this app's tools and MCP tools answer "Error: ..." (LangGraph
 * "Error: ...", the Agents SDK "An error occurred while running the tool ..."). */
export function isToolError(output: string | undefined): boolean {
  return output !== undefined && /^\s*(error\b|an error occurred while running the tool)/i.test(output);
}

/** Whether a tool call was not run: it needed the user's approval, which was denied or could not be asked
 * for (agent_server.approvals answers "Not run: <why>"). */
export function isNotRun(output: string | undefined): boolean {
  return output !== undefined && /^\s*not run:/i.test(output);
}
