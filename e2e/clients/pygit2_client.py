"""libgit2 (through pygit2) as a git client: clone, fetch or push, then exit 0 or 1.

Credentials, when the server asks, come from GITFLARE_USER and GITFLARE_TOKEN."""
import os
import sys

import pygit2


class Callbacks(pygit2.RemoteCallbacks):
    def __init__(self):
        super().__init__()
        self.rejected = []

    def credentials(self, url, username_from_url, allowed_types):
        user = os.environ.get("GITFLARE_USER")
        if user and allowed_types & pygit2.GIT_CREDENTIAL_USERPASS_PLAINTEXT:
            return pygit2.UserPass(user, os.environ["GITFLARE_TOKEN"])
        return None

    def push_update_reference(self, refname, message):
        if message:
            self.rejected.append(f"{refname}: {message}")


def main():
    op, url, path = sys.argv[1:4]
    if op == "clone":
        repo = pygit2.clone_repository(url, path, callbacks=Callbacks())
        print(repo.head.target)
    elif op == "fetch":
        repo = pygit2.Repository(path)
        stats = repo.remotes["origin"].fetch(callbacks=Callbacks())
        print(stats.received_objects)
    elif op == "push":
        repo = pygit2.Repository(path)
        callbacks = Callbacks()
        repo.remotes["origin"].push([sys.argv[4]], callbacks=callbacks)
        if callbacks.rejected:
            print("\n".join(callbacks.rejected), file=sys.stderr)
            sys.exit(1)
    else:
        raise SystemExit(f"unknown op {op}")


if __name__ == "__main__":
    main()
