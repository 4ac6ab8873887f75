// Gitflare's Worker: routes requests to the smart-HTTP endpoints, the API and the web UI.
import { Hono } from "hono";
import type { Env } from "./repo/repository";
import { smartHttp } from "./http/smart-http";
import { api } from "./api/routes";
import { web } from "./web/routes";

export { Repository } from "./repo/repository";
export { Directory } from "./directory/directory";

const app = new Hono<{ Bindings: Env }>();

app.route("/api", api);
app.route("/", smartHttp);
app.route("/", web);
app.notFound((c) => c.text("Not found\n", 404));
app.onError((err, c) => {
  console.error(err);
  return c.text("Internal error\n", 500);
});

export default app;
