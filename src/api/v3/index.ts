// The GitHub-shaped REST API, under /api/v3, so that clients written for GitHub
// (Octokit with `baseUrl`, scripts) work unchanged for the endpoints we have: issues,
// issue comments and events, labels, pull requests. Token auth as everywhere (Bearer, `token`, or
// Basic with username and token); errors and pagination as GitHub sends them. The older
// /api/repos/... endpoints (../routes.ts) keep their own shapes.
import { Hono } from "hono";
import type { Env } from "../../util/env";
import { v3Error } from "./errors";
import { issues } from "./issues";
import { labels } from "./labels";
import { pulls } from "./pulls";
import { reviews } from "./reviews";

export const v3 = new Hono<{ Bindings: Env }>();
v3.onError(v3Error);
v3.route("/", issues);
v3.route("/", labels);
v3.route("/", pulls);
v3.route("/", reviews);
v3.all("*", (c) => c.json({ message: "Not Found", documentation_url: "https://docs.github.com/rest", status: "404" }, 404));
