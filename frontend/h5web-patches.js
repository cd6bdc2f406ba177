// A build step that adds our rows to h5web's metadata table and our note to
// its plot titles (src/h5web-additions.jsx).  h5web 17 has no extension point
// for either: its h5grove provider keeps only the `meta` keys it knows, and
// its table and titles are fixed.  Each edit names the exact text it replaces
// in the pinned @h5web/app build and the number of times it must be found, so
// a different h5web version fails the build here instead of being half-patched.
const ADDITIONS = 'dosna-h5web-additions';
const TARGET = /@h5web[\\/]app[\\/]dist[\\/]index\.js$/;

const EDITS = [
  {
    what: 'the h5grove provider keeps `decimated` on a dataset entity',
    find: 'rawType: n,\n\t\t\t...i && { chunks: i },',
    replace: 'rawType: n,\n\t\t\t...__dosna.extraFields(t),\n\t\t\t...i && { chunks: i },',
    count: 1,
  },
  {
    what: 'the entity table shows the stored size and the decimation after the chunk shape',
    find: 'children: na(t.chunks) })] }),',
    replace: 'children: na(t.chunks) })] }),\n\t\t__dosna.entityRows(t),',
    count: 1,
  },
  {
    what: 'line, heatmap, complex and RGB plots say when they show decimated data',
    find: 'title: t.name,',
    replace: 'title: __dosna.visTitle(t),',
    count: 5,
  },
];

export function h5webPatches(additionsPath) {
  return {
    name: 'dosna-h5web-patches',
    enforce: 'pre',
    config() {
      return { resolve: { alias: { [ADDITIONS]: additionsPath } } };
    },
    transform(code, id) {
      if (!TARGET.test(id.split('?')[0])) {
        return null;
      }
      let out = code;
      for (const edit of EDITS) {
        const found = out.split(edit.find).length - 1;
        if (found !== edit.count) {
          throw new Error(`h5web-patches: "${edit.what}": found ${found} times, expected ${edit.count}; `
            + 'the @h5web/app build changed, update frontend/h5web-patches.js');
        }
        out = out.split(edit.find).join(edit.replace);
      }
      return { code: `import * as __dosna from '${ADDITIONS}';\n${out}`, map: null };
    },
  };
}
