// Builds the page of `dosna-like serve` into the Python package, so that a pip
// install ships it and nothing is fetched from the internet at run time.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { h5webPatches } from './h5web-patches.js';

export default defineConfig({
  plugins: [react(), h5webPatches(fileURLToPath(new URL('./src/h5web-additions.jsx', import.meta.url)))],
  base: './',
  build: {
    outDir: '../dosna_like/serve/static',
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
    sourcemap: false,
  },
});
