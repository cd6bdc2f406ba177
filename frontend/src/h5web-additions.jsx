// What the page shows beyond h5web's own metadata: the stored size of a
// dataset and, for a large one the server shows decimated, which points the
// plot holds.  The server's `meta` answer has `decimated` for every dataset
// (h5web drops keys it does not know, so h5web-patches.js makes its entity
// keep it), and `storage` only when it names the dataset itself (one listing
// of its chunks: never one per child of a group), so the "Stored size" row
// asks for it when it is shown.  h5web-patches.js calls these functions from
// h5web's metadata table and plot titles.
import React, { createContext, useContext, useEffect, useState } from 'react';

// { api, file }: where the "Stored size" row asks (the Viewer provides it)
export const ServedFile = createContext(null);

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function humanBytes(n) {
  let value = n;
  for (const unit of UNITS) {
    if (Math.abs(value) < 1024 || unit === 'TiB') {
      return unit === 'B' ? `${value} B` : `${value.toFixed(1)} ${unit}`;
    }
    value /= 1024;
  }
  return `${n} B`;
}

function ordinal(k) {
  const tens = k % 100;
  if (tens >= 11 && tens <= 13) {
    return `${k}th`;
  }
  return `${k}${{ 1: 'st', 2: 'nd', 3: 'rd' }[k % 10] ?? 'th'}`;
}

// the server's extra keys of a dataset's `meta` answer, kept on h5web's entity
export function extraFields(meta) {
  return meta.decimated ? { decimated: meta.decimated } : {};
}

// "every 2nd point along axes 0 and 1 of 3000 × 2500"
export function decimationText({ shape, steps }) {
  const axes = steps.map((step, axis) => [axis, step]).filter(([, step]) => step > 1);
  const same = axes.every(([, step]) => step === axes[0][1]);
  const along = same
    ? `every ${ordinal(axes[0][1])} point along ${axes.length > 1 ? 'axes' : 'axis'} ${axes.map(([a]) => a).join(' and ')}`
    : axes.map(([axis, step]) => `every ${ordinal(step)} point along axis ${axis}`).join(', ');
  return `${along} of ${shape.join(' × ')}`;
}

export function visTitle(entity) {
  return entity.decimated ? `${entity.name} (decimated: ${decimationText(entity.decimated)})` : entity.name;
}

function storageText({ stored_bytes: stored, chunks_stored: objects, nbytes, ratio }) {
  if (!stored) {
    return `nothing stored (all fill value), for ${humanBytes(nbytes)}`;
  }
  return `${humanBytes(stored)} in ${objects} object${objects === 1 ? '' : 's'}, for ${humanBytes(nbytes)}`
    + ` (ratio ${ratio})`;
}

function StoredSizeRow({ path }) {
  const { api, file } = useContext(ServedFile);
  const [shown, setShown] = useState({ text: 'reading...' });
  useEffect(() => {
    let live = true;
    fetch(`${api}/meta?${new URLSearchParams({ file, path })}`)
      .then(async (response) => {
        const body = await response.json();
        if (!response.ok) {
          throw new Error(body.message || response.statusText);
        }
        return body.storage;
      })
      .then((storage) => live && setShown({ text: storageText(storage), bytes: storage.stored_bytes }),
        (error) => live && setShown({ text: `not known: ${error.message}` }));
    return () => { live = false; };
  }, [api, file, path]);
  return (
    <tr>
      <th scope="row">Stored size</th>
      <td data-testid="stored-size" title={shown.bytes === undefined ? undefined : `${shown.bytes} bytes stored`}>
        {shown.text}
      </td>
    </tr>
  );
}

// rows of h5web's entity table, after "Chunk shape"
export function entityRows(entity) {
  if (entity.kind !== 'dataset') {
    return null;
  }
  return (
    <>
      <StoredSizeRow path={entity.path} />
      {entity.decimated && (
        <tr>
          <th scope="row">Plotted</th>
          <td data-testid="decimated">{`decimated on the server: ${decimationText(entity.decimated)}`}</td>
        </tr>
      )}
    </>
  );
}
