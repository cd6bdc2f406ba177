// The page: h5web's App over the server's h5grove API, one file at a time,
// with a file picker (when the server serves a prefix of several files) and a
// search box that asks the server's sidecar index (`dosna-like search` syntax).
import React, { useEffect, useState } from 'react';
import { App, H5GroveProvider } from '@h5web/app';
import { ServedFile } from './h5web-additions.jsx';

const API = new URL('api', window.location.href).href;

async function getJSON(endpoint, params) {
  const response = await fetch(`${API}/${endpoint}?${new URLSearchParams(params)}`);
  const body = await response.json();
  if (!response.ok) {
    throw new Error(body.message || response.statusText);
  }
  return body;
}

function SearchHits({ hits, error, onPick }) {
  if (error) {
    return <ul className="hits"><li className="error">{error}</li></ul>;
  }
  if (hits === null) {
    return null;
  }
  return (
    <ul className="hits" data-testid="hits">
      {hits.length === 0 && <li>no matches</li>}
      {hits.map((hit) => (
        <li key={`${hit.file}:${hit.path}`}>
          <button type="button" onClick={() => onPick(hit)}>{hit.file ? `${hit.file}:` : ''}{hit.path}</button>
          {' '}{hit.kind}{hit.shape ? ` (${hit.shape.join(', ')})` : ''}{hit.dtype ? ` ${hit.dtype}` : ''}
        </li>
      ))}
    </ul>
  );
}

export default function Viewer() {
  const [served, setServed] = useState(null);
  const [file, setFile] = useState(null);
  const [initialPath, setInitialPath] = useState('/');
  const [query, setQuery] = useState('');
  const [hits, setHits] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    getJSON('files', {}).then((info) => {
      setServed(info);
      setFile(info.files[0] ?? null);
    }, (err) => setError(err.message));
  }, []);

  async function search(event) {
    event.preventDefault();
    setError(null);
    try {
      setHits((await getJSON('search', { q: query })).hits);
    } catch (err) {
      setHits(null);
      setError(err.message);
    }
  }

  function pick(hit) {
    setFile(hit.file);
    setInitialPath(hit.path);
  }

  return (
    <div className="viewer">
      <div className="bar">
        <span className="title" title={served?.url}>{served?.url ?? 'dosna-like serve'}</span>
        {served && served.files.length > 1 && (
          <select value={file ?? ''} onChange={(e) => { setFile(e.target.value); setInitialPath('/'); }}>
            {served.files.map((name) => <option key={name} value={name}>{name}</option>)}
          </select>
        )}
        <form onSubmit={search}>
          <input value={query} onChange={(e) => setQuery(e.target.value)} aria-label="search"
                 placeholder="search: sample=mouse-1  temp>=300  path~*raw*  kind=dataset" />
          <button type="submit">Search</button>
        </form>
      </div>
      <SearchHits hits={hits} error={error} onPick={pick} />
      <div className="app">
        {file !== null && (
          <ServedFile.Provider value={{ api: API, file }}>
            <H5GroveProvider key={`${file}:${initialPath}`} url={API} filepath={file}>
              <App initialPath={initialPath} />
            </H5GroveProvider>
          </ServedFile.Provider>
        )}
      </div>
    </div>
  );
}
