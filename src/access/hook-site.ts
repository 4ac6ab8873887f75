// The repository as webhook payloads describe it, from its record: what the Worker hands
// the Repository object with every event (the object does not know its own record).
import type { HookSite } from "../util/hook-site";
import type { RepoRecord } from "./repos";

export function hookSite(requestUrl: string, repo: RepoRecord): HookSite {
  return {
    origin: new URL(requestUrl).origin,
    id: repo.id,
    owner: { id: repo.ownerId, login: repo.owner },
    name: repo.name,
    private: repo.isPrivate,
    description: repo.description,
    fork: repo.parent !== null,
  };
}
