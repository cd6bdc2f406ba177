import React from 'react';
import { createRoot } from 'react-dom/client';
import '@h5web/app/styles.css';
import './viewer.css';
import Viewer from './Viewer.jsx';

createRoot(document.getElementById('root')).render(<Viewer />);
