// Builds the page of `dosna-like serve` into the Python package, so that a pip
// install ships it and nothing is fetched from the internet at run time.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  base: './',
  build: {
    outDir: '../dosna_like/serve/static',
    emptyOutDir: true,
    chunkSizeWarningLimit: 4096,
    sourcemap: false,
  },
});
