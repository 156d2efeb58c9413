/** Placeholder: the image routes are written elsewhere and replace this file. */
import type { Router } from '../router.js';
import type { Engine } from '../../engine/engine.js';

export function registerImageRoutes(_router: Router, _engine: Engine): void {}
