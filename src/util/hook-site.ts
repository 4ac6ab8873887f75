// What a webhook payload says about the repository it comes from, as the Worker knows
// it (the Durable Object does not know its own D1 record: its current name, id or
// visibility). The Worker hands it over with each event; payloads are built from it.

export interface HookSite {
  /** `https://host` */
  origin: string;
  id: number;
  owner: { id: number; login: string };
  name: string;
  private: boolean;
  description: string;
  /** Whether the repository is a fork. */
  fork?: boolean;
}
