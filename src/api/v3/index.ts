// The GitHub-shaped REST API, under /api/v3, so that clients written for GitHub
// (Octokit with `baseUrl`, scripts) work unchanged for the endpoints we have: issues,
// issue comments and events, labels, pull requests, repositories, contents, commits, git data. Token auth as everywhere (Bearer, `token`, or
// Basic with username and token); errors and pagination as GitHub sends them. The older
// /api/repos/... endpoints (../routes.ts) keep their own shapes.
import { Hono } from "hono";
import type { Env } from "../../util/env";
import { branches } from "./branches";
import { commits } from "./commits";
import { contents } from "./contents";
import { v3Error } from "./errors";
import { etag } from "./etag";
import { forks } from "./forks";
import { git } from "./git";
import { hooks } from "./hooks";
import { issues } from "./issues";
import { labels } from "./labels";
import { pulls } from "./pulls";
import { repos } from "./repos";
import { statuses } from "./statuses";
import { reviews } from "./reviews";
import { search } from "./search";

export const v3 = new Hono<{ Bindings: Env }>();
v3.onError(v3Error);
v3.use("*", etag);
// Before routes with greedy `{ref}` parameters (commits/{ref}), so that .../status(es) reach these.
v3.route("/", statuses);
v3.route("/", branches);
v3.route("/", issues);
v3.route("/", labels);
v3.route("/", pulls);
v3.route("/", hooks);
v3.route("/", forks);
v3.route("/", repos);
v3.route("/", contents);
v3.route("/", commits);
v3.route("/", git);
v3.route("/", reviews);
v3.route("/", search);
v3.all("*", (c) => c.json({ message: "Not Found", documentation_url: "https://docs.github.com/rest", status: "404" }, 404));
