// The floors of the code (DESIGN.md, README "How it is built"): imports run downward only.
// Each floor may import the floors below it, never one above; floors that share a level
// (repo/ and auth/) may not import each other. Module cycles are refused everywhere.
const floors = [
  { name: "surfaces", path: "^src/(worker\\.ts|http/|web/|api/)" },
  { name: "access", path: "^src/access/" },
  { name: "actors", path: "^src/(repo|auth)/" },
  { name: "protocol", path: "^src/git/protocol/" },
  { name: "export", path: "^src/git/export/" },
  { name: "git", path: "^src/git/(merge/|[^/]+\\.ts$)" },
  { name: "store", path: "^src/git/store/" },
  { name: "pack", path: "^src/git/pack/" },
  { name: "object", path: "^src/git/object/" },
  { name: "fs", path: "^src/fs/" },
  { name: "ground", path: "^src/(util|types)/" },
];

const upward = floors.flatMap((floor, i) =>
  i === 0
    ? []
    : [
        {
          name: `no-upward-from-${floor.name}`,
          comment: `${floor.name} may import only the floors below it`,
          severity: "error",
          from: { path: floor.path },
          to: { path: floors.slice(0, i).map((f) => f.path) },
        },
      ],
);

module.exports = {
  forbidden: [
    ...upward,
    {
      name: "no-repo-auth-crossing",
      comment: "repo/ and auth/ share a floor and stay independent of each other",
      severity: "error",
      from: { path: "^src/repo/" },
      to: { path: "^src/auth/" },
    },
    {
      name: "no-auth-repo-crossing",
      comment: "repo/ and auth/ share a floor and stay independent of each other",
      severity: "error",
      from: { path: "^src/auth/" },
      to: { path: "^src/repo/" },
    },
    {
      name: "no-cycles",
      comment: "no module cycles: a folder's modules form a tree from its entry points down",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-folder-cycles",
      comment: "no cycles between folders either, e.g. git/ and git/pack/ importing each other",
      severity: "error",
      scope: "folder",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-unfloored",
      comment: "every source file belongs to a floor",
      severity: "error",
      from: { path: "^src/", pathNot: floors.map((f) => f.path) },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    includeOnly: "^src/",
  },
};
